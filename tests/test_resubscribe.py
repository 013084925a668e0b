"""A reader subscribing again to an incident on the same socket, and the burst of subscribes a page sends at open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from tests.support.live import LiveReader
from tests.support.node import node_settings, running_node
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.errors import CloseCode
from ticker.events import Message

# Where the reader says it is (it holds seq 4), and what must follow the ``subscribed`` reply before seq 5.
SINCE: dict[str, tuple[int | None, list[tuple[str, int]]]] = {
    "without since": (None, []),
    "equal": (4, []),
    "behind": (2, [("event", 3), ("event", 4)]),
    "ahead of the store": (9, [("snapshot", 4)]),  # a position no node ever had: the state as it is instead
}


async def received(reader: LiveReader, count: int) -> list[tuple[str, int]]:
    """The next ``count`` messages, as (type, seq)."""
    return [(m["type"], m["seq"]) for m in [await reader.receive() for _ in range(count)]]


@pytest.mark.parametrize("others", [False, True], ids=["alone", "with another reader"])
@pytest.mark.parametrize("case", SINCE)
async def test_a_reader_that_subscribes_again_gets_what_it_missed_and_every_later_event(
    sqlite_url: str, case: str, others: bool
) -> None:
    since, missed = SINCE[case]
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=1)
        if others:  # on another socket: the incident has a second reader on this node
            other = await LiveReader.open(node.ws_url)
            await other.subscribe(slug, since=1)
        for n in range(3):  # seq 2..4, sent live: the node holds their frames for cheap resumes
            await reporter.post(slug, f"Rapport {n}")
        await reader.follow(slug, 4)
        await reader.send({"type": "subscribe", "incident": slug, "since": since})
        assert await received(reader, 1 + len(missed)) == [("subscribed", 4), *missed]
        for seq in (5, 6):  # before: alone, nothing ever came again, and the socket stayed open
            await reporter.post(slug, f"Efter den nya prenumerationen {seq}.")
            assert await received(reader, 1) == [("event", seq)]
        assert await reader.silent()  # no twin
        if others:
            assert (await other.follow(slug, 6)).seq == 6
            await other.close()
        await reader.close()
        await eventually(lambda: node.services.hub.topics == {})  # nobody follows it any more: dropped


class HeldBroker(MemoryBroker):
    """A memory broker whose reads hand their messages to the node's listener only while ``flowing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def read(self, positions: Any, timeout: float) -> list[Message]:
        messages = await super().read(positions, timeout)
        await self.flowing.wait()
        return messages


def async_seqs(broker: MemoryBroker, slug: str, seqs: list[int]) -> Callable[[], Awaitable[bool]]:
    """A check that the broker holds exactly ``seqs`` of ``slug`` after seq 2."""

    async def check() -> bool:
        return [m.seq for m in await broker.history(slug, 2, 10)] == seqs

    return check


@pytest.mark.parametrize("others", [False, True], ids=["alone", "with another reader"])
async def test_a_reader_that_subscribes_again_ahead_of_the_node_turns_live_when_the_node_gets_there(
    sqlite_url: str, others: bool
) -> None:
    """As one resuming from a faster node would: its ``since`` is in the store but not yet on this node."""
    broker = HeldBroker()
    async with running_node(node_settings(sqlite_url), broker=broker) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=1)
        if others:
            other = await LiveReader.open(node.ws_url)
            await other.subscribe(slug, since=1)
        await reporter.post(slug, "Först.")
        await reader.follow(slug, 2)
        broker.flowing.clear()
        for n in range(2):  # seq 3 and 4: committed and in the broker, not yet read by this node
            await reporter.post(slug, f"Rapport {n}")
        await eventually(async_seqs(broker, slug, [3, 4]))
        await reader.send({"type": "subscribe", "incident": slug, "since": 4})
        assert await received(reader, 1) == [("subscribed", 2)]  # where this node is
        broker.flowing.set()
        await reporter.post(slug, "Efter.")
        assert await received(reader, 1) == [("event", 5)]  # not 3 or 4 again: it has them
        assert await reader.silent()
        if others:
            assert (await other.follow(slug, 5)).seq == 5
            await other.close()
        await reader.close()


async def test_a_subscribe_again_while_the_first_still_fetches_is_answered_after_it(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        for n in range(2):  # seq 2 and 3, before any reader: the node does not follow the incident yet
            await reporter.post(slug, f"Rapport {n}")
        store = node.services.store
        loaded, asked, answer = store.position, asyncio.Event(), asyncio.Event()

        async def held(slug: str) -> tuple[int, str]:
            asked.set()
            await answer.wait()
            return await loaded(slug)

        store.position = held  # type: ignore[method-assign]
        reader = await LiveReader.open(node.ws_url)
        await reader.send({"type": "subscribe", "incident": slug, "since": 1})
        await asyncio.wait_for(asked.wait(), 10)  # the first subscribe is loading the incident's position
        await reader.send({"type": "subscribe", "incident": slug, "since": 2})
        answer.set()
        first, second = [("subscribed", 3), ("event", 2), ("event", 3)], [("subscribed", 3), ("event", 3)]
        assert await received(reader, 5) == first + second  # in the order they were sent, each in full
        await reporter.post(slug, "Efter.")
        assert await received(reader, 1) == [("event", 4)]
        assert await reader.silent()
        await reader.close()


class OneWriteClient:
    """A websocket client on a plain TCP connection (websockets' sans-I/O protocol), able to send many messages
    in one write, so that the server reads them together, as it does when a page opens with all its cards."""

    def __init__(self, protocol: ClientProtocol, stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.protocol = protocol
        self.stream = stream
        self.writer = writer
        self.response: Response | None = None
        self.pending: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str) -> OneWriteClient:
        uri = parse_uri(ws_url)
        stream, writer = await asyncio.open_connection(uri.host, uri.port)
        client = cls(ClientProtocol(uri), stream, writer)
        client.protocol.send_request(client.protocol.connect())
        await client._flush()
        while client.response is None:
            assert await client._read(), "closed during the handshake"
        assert client.response.status_code == 101, client.response
        return client

    async def send_together(self, messages: Sequence[dict[str, Any]]) -> None:
        for message in messages:
            self.protocol.send_text(json.dumps(message).encode())
        await self._flush()  # one write of all the masked frames

    async def receive(self) -> dict[str, Any] | None:
        """The next message; None once the server has closed the connection."""
        while not self.pending:
            if self.protocol.close_rcvd is not None or not await self._read():
                return None
        return self.pending.pop(0)

    @property
    def close_code(self) -> int | None:
        return None if self.protocol.close_rcvd is None else self.protocol.close_rcvd.code

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()

    async def _read(self) -> bool:
        data = await asyncio.wait_for(self.stream.read(65536), 10)
        if not data:
            self.protocol.receive_eof()
        else:
            self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.pending.append(json.loads(bytes(event.data)))
        await self._flush()  # a pong, or our half of the closing handshake
        return bool(data)

    async def _flush(self) -> None:
        self.writer.write(b"".join(self.protocol.data_to_send()))
        await self.writer.drain()


async def fresh_incidents(reporter: Any, count: int) -> list[str]:
    return [await reporter.incident(f"Händelse {n}") for n in range(count)]


async def test_a_page_opening_with_every_card_it_may_follow_in_one_write_gets_them_all(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slugs = await fresh_incidents(reporter, settings.max_subscriptions)  # none followed on this node yet
        client = await OneWriteClient.open(node.ws_url)
        await client.send_together([{"type": "subscribe", "incident": slug, "since": 1} for slug in slugs])
        replies = [await client.receive() for _ in slugs]  # before: closed with 1008 after 16
        assert [r and r["type"] for r in replies] == ["subscribed"] * len(slugs), (client.close_code, replies)
        assert sorted(r["incident"] for r in replies if r) == sorted(slugs)
        for slug in slugs:
            await reporter.post(slug, "Senaste nytt.")
        events = [await client.receive() for _ in slugs]
        assert sorted((e["incident"], e["seq"]) for e in events if e) == sorted((slug, 2) for slug in slugs)
        await client.close()


@pytest.mark.parametrize("shape", ["the same incidents again and again", "more incidents than one may follow"])
async def test_a_flood_of_subscribes_beyond_what_the_protocol_allows_is_closed_with_1008(
    sqlite_url: str, shape: str
) -> None:
    settings = Settings(database_url=sqlite_url)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slugs = await fresh_incidents(reporter, settings.max_subscriptions)
        if shape == "the same incidents again and again":
            slugs *= 3
        else:
            slugs += [f"ingenstans-{n}" for n in range(2 * settings.max_subscriptions)]
        client = await OneWriteClient.open(node.ws_url)
        await client.send_together([{"type": "subscribe", "incident": slug} for slug in slugs])
        while await client.receive() is not None:
            pass
        assert client.close_code == CloseCode.POLICY_VIOLATION
        await client.close()


@pytest.mark.parametrize(("again", "closed"), [(2, False), (3, True)])
async def test_the_bound_on_waiting_messages_is_one_subscribe_per_incident_plus_the_setting(
    sqlite_url: str, again: int, closed: bool
) -> None:
    """With 3 incidents per connection and 2 more messages allowed: a subscribe to each of 3 fresh incidents and
    2 subscribes again may wait together behind the first one's fetch; a third again is one too many."""
    settings = Settings(database_url=sqlite_url, max_subscriptions=3, ws_max_pending_messages=2)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slugs = await fresh_incidents(reporter, 3)
        client = await OneWriteClient.open(node.ws_url)
        sent = slugs + [slugs[0]] * again
        await client.send_together([{"type": "subscribe", "incident": slug} for slug in sent])
        if closed:
            while await client.receive() is not None:
                pass
            assert client.close_code == CloseCode.POLICY_VIOLATION
        else:
            replies = [await client.receive() for _ in sent]
            assert [(r["type"], r["incident"]) for r in replies if r] == [("subscribed", slug) for slug in sent]
            for slug in slugs[:2]:
                await reporter.post(slug, "Senaste nytt.")
            events = [await client.receive() for _ in range(2)]  # the first one once, though subscribed 3 times
            assert [(e["type"], e["incident"], e["seq"]) for e in events if e] == [("event", s, 2) for s in slugs[:2]]
        await client.close()
