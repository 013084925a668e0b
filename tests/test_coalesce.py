"""Coalesced writes (issue 18): what a reader is sent in one turn of the event loop reaches it in one write.

A real node and real websocket readers. A spy on the server's socket transports counts the writes each reader's
connection makes; events are handed to the hub's fan-out (``Hub.dispatch``, what the listener calls) from the
test, so that several of them fall in one turn of the loop for certain.
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.live import LiveReader
from tests.support.node import Node, node_settings, running_node
from tests.support.sinks import frame_messages
from tests.support.waiting import eventually
from ticker.errors import CloseCode
from ticker.events import dumps
from ticker.live.connection import LiveConnection
from ticker.live.frames import framed
from ticker.live.hub import Hub
from ticker.live.topic import Reader

Transport = asyncio.selector_events._SelectorSocketTransport  # the test node runs on asyncio's loop


class WriteSpy:
    """Every write made to the transports it watches (the node's side of readers' sockets)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.watched: set[object] = set()
        self.writes: dict[object, list[bytes]] = defaultdict(list)
        original: Callable[[Any, bytes], None] = Transport.write

        def write(transport: Any, data: bytes) -> None:
            if transport in self.watched:
                self.writes[transport].append(bytes(data))
            original(transport, data)

        monkeypatch.setattr(Transport, "write", write)

    def watch(self, hub: Hub) -> list[Reader]:
        """Watch every reader's connection from now on; the readers, in no particular order."""
        readers = list(hub.readers)
        self.watched = {connection(reader).transport for reader in readers}
        self.writes.clear()
        return readers

    def of(self, reader: Reader) -> list[list[dict[str, Any]]]:
        """The reader's writes since ``watch``, each as the messages its frames carry."""
        return [frame_messages(data) for data in self.writes[connection(reader).transport]]


def connection(reader: Reader) -> LiveConnection:
    assert isinstance(reader.sink, LiveConnection)
    return reader.sink


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, send_buffer_bytes=64 * 1024)) as node:
        yield node


def dispatch(hub: Hub, slug: str, count: int, body: str = "") -> list[int]:
    """``count`` events of the incident into the fan-out, one after the other (in this turn of the loop)."""
    topic = hub.topics[slug]
    seqs = list(range(topic.seq + 1, topic.seq + 1 + count))
    for seq in seqs:
        event = {"type": "event", "incident": slug, "seq": seq, "event": "entry.posted", "data": {"body": body}}
        hub.dispatch(topic, seq, framed(dumps(event), seq))
    return seqs


async def seqs_received(reader: LiveReader, count: int) -> list[tuple[str, int]]:
    return [(m["incident"], m["seq"]) for m in [await reader.receive() for _ in range(count)]]


async def readers_on(node: Node, slugs: list[str], count: int) -> list[LiveReader]:
    readers = [await LiveReader.open(node.ws_url) for _ in range(count)]
    for reader in readers:
        for slug in slugs:
            await reader.subscribe(slug)
    await eventually(lambda: all(len(node.services.hub.topics[slug].live) >= count for slug in slugs))
    return readers


async def test_events_dispatched_in_one_turn_reach_each_reader_in_one_write(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = WriteSpy(monkeypatch)
    slug = await (await node.reporter()).incident()
    clients = await readers_on(node, [slug], 3)
    hub = node.services.hub
    watched = spy.watch(hub)

    burst = dispatch(hub, slug, 5)
    for client in clients:
        assert await seqs_received(client, 5) == [(slug, seq) for seq in burst]
    for reader in watched:
        assert [[m["seq"] for m in write] for write in spy.of(reader)] == [burst]

    spy.writes.clear()  # one event per turn: one write per event, nothing more
    steady = []
    for _ in range(3):
        steady += dispatch(hub, slug, 1)
        await asyncio.sleep(0)
    for client in clients:
        assert await seqs_received(client, 3) == [(slug, seq) for seq in steady]
    for reader in watched:
        assert [[m["seq"] for m in write] for write in spy.of(reader)] == [[seq] for seq in steady]
    for client in clients:
        await client.close()


async def test_a_reader_following_two_incidents_gets_both_in_one_write(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = WriteSpy(monkeypatch)
    reporter = await node.reporter()
    first, second = await reporter.incident("Brand i hamnen"), await reporter.incident("Stormen")
    both = (await readers_on(node, [first, second], 1))[0]
    only_first = (await readers_on(node, [first], 1))[0]
    hub = node.services.hub
    readers = spy.watch(hub)

    a = dispatch(hub, first, 2)
    b = dispatch(hub, second, 1)
    c = dispatch(hub, first, 1)
    assert sorted(await seqs_received(both, 4)) == sorted([(first, s) for s in a + c] + [(second, s) for s in b])
    assert await seqs_received(only_first, 3) == [(first, s) for s in a + c]
    for reader in readers:
        writes = spy.of(reader)
        assert len(writes) == 1
        for slug in reader.topics:  # each incident's events in seq order
            seqs = [m["seq"] for m in writes[0] if m["incident"] == slug]
            assert seqs == sorted(seqs) and len(seqs) == (3 if slug == first else 1)
    await both.close()
    await only_first.close()


async def test_catch_up_and_live_events_of_one_turn_go_in_one_write_in_order(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = WriteSpy(monkeypatch)
    slug = await (await node.reporter()).incident()
    client = (await readers_on(node, [slug], 1))[0]
    hub = node.services.hub
    (reader,) = spy.watch(hub)
    before = dispatch(hub, slug, 3)
    await seqs_received(client, 3)
    spy.writes.clear()

    # In one turn: the reader asks again from seq 1 (its reply and catch-up), then live events, then a reply.
    assert hub.subscribe_at_once(reader, slug, 1, hub.topics[slug].epoch)
    live = dispatch(hub, slug, 2)
    reader.send({"type": "error", "code": "bad_message", "message": "after the events"})

    expected = [("subscribed", None)] + [("event", s) for s in before + live] + [("error", None)]
    received = [await client.receive() for _ in range(len(expected))]
    assert [(m["type"], m.get("seq") if m["type"] == "event" else None) for m in received] == expected
    # The reply that came after the live events had been dispatched waits for nothing, and follows them.
    writes = spy.of(reader)
    assert [[m["type"] for m in write] for write in writes] == [
        [m[0] for m in expected[:-1]],
        ["error"],
    ]
    await client.close()


@pytest.mark.parametrize("code", [CloseCode.SERVICE_RESTART, CloseCode.SLOW_READER])
async def test_a_close_after_pending_frames_sends_the_frames_then_the_close_frame(
    node: Node, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    spy = WriteSpy(monkeypatch)
    slug = await (await node.reporter()).incident()
    client = (await readers_on(node, [slug], 1))[0]
    hub = node.services.hub
    (reader,) = spy.watch(hub)

    burst = dispatch(hub, slug, 4)
    reader.send({"type": "error", "code": "bad_message", "message": "held for the end of the turn"})
    reader.sink.close(code, "closing")  # in the same turn: the reply is still held

    assert await seqs_received(client, 4) == [(slug, seq) for seq in burst]
    assert (await client.receive())["type"] == "error"
    with pytest.raises(ConnectionClosed):
        await client.receive()
    assert client.ws.close_code == code
    writes = spy.writes[connection(reader).transport]
    assert len(writes) == 3  # the events, the reply, then the close frame
    assert [m["seq"] for m in frame_messages(writes[0])] == burst and frame_messages(writes[1])[0]["type"] == "error"


async def test_a_reader_that_stops_reading_during_a_coalesced_burst_is_closed_with_4000(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = await (await node.reporter()).incident()
    fast = (await readers_on(node, [slug], 1))[0]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", int(node.url.rsplit(":", 1)[1])))
    stuck = LiveReader(await connect(node.ws_url, sock=sock, max_queue=1))
    await stuck.subscribe(slug)
    hub = node.services.hub
    await eventually(lambda: len(hub.topics[slug].live) == 2)

    sent: list[int] = []
    while len(hub.readers) == 2:  # 10 events of ~3 KB a turn until the stuck reader passes the bound
        sent += dispatch(hub, slug, 10, body="x" * 3_000)
        assert await seqs_received(fast, 10) == [(slug, seq) for seq in sent[-10:]]
        assert len(sent) < 3_000, "the stuck reader was never closed"

    got: list[int] = []  # it reads again: what it was sent, in order, then the close frame
    with pytest.raises(ConnectionClosed):
        while True:
            got.append((await stuck.receive())["seq"])
    assert stuck.ws.close_code == CloseCode.SLOW_READER
    assert got == sent
    await fast.close()
