"""The ways into /live: plain readers answered on their first bytes, everything else by uvicorn and the app."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.typing import Origin

from tests.support.live import LiveReader, subscribed
from tests.support.node import Node, node_settings, running_node
from tests.support.waiting import eventually
from ticker.errors import CloseCode
from ticker.live.direct import plain_reader

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example key
PARTNER = "http://127.0.0.2:8081"
STRANGER = "http://127.0.0.3:8081"


def upgrade(target: bytes = b"/live", **headers: bytes) -> bytes:
    """An upgrade request as uvicorn passes it to its websocket protocol (header names in lower case)."""
    fields = {
        b"host": b"127.0.0.1:8000",
        b"upgrade": b"websocket",
        b"connection": b"Upgrade",
        b"sec-websocket-key": KEY,
        b"sec-websocket-version": b"13",
        **{name.replace("_", "-").encode(): value for name, value in headers.items()},
    }
    lines = [b"GET " + target + b" HTTP/1.1"] + [name + b": " + value for name, value in fields.items() if value]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_a_plain_upgrade_to_live_is_recognised_with_its_origin_and_partner() -> None:
    assert plain_reader(upgrade()) == (KEY, None, None)
    assert plain_reader(upgrade(origin=b"https://gp.se")) == (KEY, "https://gp.se", None)
    assert plain_reader(upgrade(b"/live?partner=gp&x=1")) == (KEY, None, "gp")
    assert plain_reader(upgrade(connection=b"keep-alive, Upgrade")) == (KEY, None, None)  # as Firefox sends it
    assert plain_reader(upgrade(cookie=b"consent=yes")) == (KEY, None, None)  # other sites' cookies do not count
    # As a browser sends it, before uvicorn's parser has seen it: names in any case, optional whitespace.
    raw = (
        b"GET /live HTTP/1.1\r\nHost: ticker.se\r\nUpgrade: WebSocket\r\nConnection:Upgrade\r\n"
        b"Sec-WebSocket-Key:  " + KEY + b"\t\r\nSec-WebSocket-Version: 13\r\nOrigin: https://ticker.se\r\n\r\n"
    )
    assert plain_reader(raw) == (KEY, "https://ticker.se", None)


@pytest.mark.parametrize(
    "request_bytes",
    [
        upgrade(b"/live/x"),
        upgrade(b"/other"),
        upgrade().replace(b"GET", b"POST", 1),
        upgrade().replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        upgrade(cookie=b"a=1; ticker_session=abc"),  # a newsroom socket: its session is looked up by the app
        upgrade(upgrade=b"h2c"),
        upgrade(connection=b"keep-alive"),
        upgrade(sec_websocket_version=b"8"),
        upgrade(sec_websocket_key=b""),
        upgrade(sec_websocket_key=b"not base64!"),
        upgrade(sec_websocket_key=b"c2hvcnQ="),  # base64, but not 16 bytes
        upgrade().replace(b"\r\n\r\n", b"\r\norigin: https://a.se\r\norigin: https://b.se\r\n\r\n"),
        b"GET /live HTTP/1.1\r\nbroken header line\r\n\r\n",
        upgrade().replace(b"upgrade: websocket", b"up grade: x\r\nupgrade: websocket"),  # not a header name
        b"",
    ],
)
def test_anything_out_of_the_ordinary_is_left_to_the_app(request_bytes: bytes) -> None:
    assert plain_reader(request_bytes) is None


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, partner_cache_seconds=3600)) as running:
        yield running


async def opened(node: Node) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        found: dict[str, int] = (await client.get(f"{node.url}/healthz")).json()["sockets_opened"]
    return found


async def test_a_plain_reader_is_answered_directly_and_gets_live_events_and_its_catch_up(node: Node) -> None:
    editor = await node.reporter()
    slug = await editor.incident()
    first = await editor.post(slug, "Räddningstjänsten är på plats.")
    reader = await LiveReader.open(node.ws_url)
    reply = await reader.subscribe(slug)
    assert reply["seq"] == first["seq"]
    await editor.post(slug, "Branden är under kontroll.")
    event = await reader.receive()
    assert (event["type"], event["event"], event["seq"]) == ("event", "entry.posted", first["seq"] + 1)
    # A second reader resumes from the first event: the node's own recent frames, without waiting.
    behind = await LiveReader.open(node.ws_url)
    await behind.subscribe(slug, since=first["seq"])
    assert (await behind.receive())["seq"] == first["seq"] + 1
    await reader.close()
    await behind.close()
    assert await opened(node) == {"direct": 2}
    assert node.services.hub.catchups["node"] == 1


async def test_cookies_lookups_and_refusals_go_through_the_app(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    # A session cookie (even a stale one): the app looks the session up; without it, a plain anonymous reader.
    async with connect(node.ws_url, additional_headers={"Cookie": "ticker_session=stale"}) as ws:
        assert (await subscribed(ws, slug))["type"] == "subscribed"
    assert await opened(node) == {"app": 1}
    # A stranger's origin is refused by the app with 403, and counts nowhere.
    with pytest.raises(InvalidStatus) as refused:
        await connect(node.ws_url, origin=Origin(STRANGER))
    assert refused.value.response.status_code == 403
    # A partner's origin: the first socket after the partner list changed waits for the app's lookup...
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
    async with connect(node.ws_url, origin=Origin(PARTNER)) as ws:
        assert (await subscribed(ws, slug))["type"] == "subscribed"
    assert await opened(node) == {"app": 2}
    # ...the next ones are admitted from the node's cached directory, directly, and counted for the partner.
    async with connect(node.ws_url, origin=Origin(PARTNER)) as ws:
        assert (await subscribed(ws, slug))["type"] == "subscribed"
        assert [reader.partner for reader in node.services.hub.readers] == ["gp"]
    assert await opened(node) == {"app": 2, "direct": 1}
    with pytest.raises(InvalidStatus):  # the stranger is still refused, though the directory is now cached
        await connect(node.ws_url, origin=Origin(STRANGER))
    assert await opened(node) == {"app": 2, "direct": 1}


async def test_a_full_node_closes_new_readers_with_1013_whichever_way_they_came(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, max_connections=2)) as node:
        slug = await (await node.reporter()).incident()
        readers = [await LiveReader.open(node.ws_url) for _ in range(2)]
        for reader in readers:
            await reader.subscribe(slug)
        for headers in ({}, {"Cookie": "ticker_session=stale"}):
            async with connect(node.ws_url, additional_headers=headers) as extra:
                with pytest.raises(ConnectionClosed):
                    await extra.recv()
                assert extra.close_code == CloseCode.TRY_AGAIN_LATER
        assert len(node.services.hub.readers) == 2
        await readers[0].close()
        await eventually(lambda: len(node.services.hub.readers) == 1)
        async with connect(node.ws_url) as ws:  # room again
            assert (await subscribed(ws, slug))["type"] == "subscribed"
        await readers[1].close()
        assert await opened(node) == {"direct": 3, "app": 2}


async def raw_exchange(node: Node, *chunks: bytes) -> bytes:
    """Send ``chunks`` as separate writes on one TCP connection; what the server answered in the next moments."""
    host, port = node.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.05)
    answer = b""
    with contextlib.suppress(TimeoutError):
        while b"subscribed" not in answer:
            answer += await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return answer


def client_frame(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def test_a_request_split_over_reads_or_followed_by_a_frame_is_answered_directly_too(node: Node) -> None:
    slug = await (await node.reporter()).incident()
    request = upgrade(host=node.url.removeprefix("http://").encode())
    subscribe = client_frame(json.dumps({"type": "subscribe", "incident": slug}))
    accept = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's answer to its example key
    # In two reads: uvicorn's parser reads it, then the websocket protocol class answers it.
    split = await raw_exchange(node, request[:40], request[40:], subscribe)
    # The subscribe frame sent in the same write as the request is not lost.
    pipelined = await raw_exchange(node, request + subscribe)
    for answer in (split, pipelined):
        assert answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and accept in answer
        assert b'"type":"subscribed"' in answer
    assert await opened(node) == {"direct": 2}
