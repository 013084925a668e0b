"""Slow clients (issue 11, defect 6): a request's head and body must arrive in time, and connections that are
still sending one are bounded, so clients trickling requests cannot keep a node's sockets from its readers.

Raw sockets against a real node. A test never asserts how long anything took: it waits for the node to close
a connection (with a guard, so a node that never closes it fails the test instead of hanging it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable

import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from tests.support.live import LiveReader
from tests.support.node import Node, node_settings, running_node
from tests.support.waiting import eventually
from ticker.partial_requests import PARTIAL_REQUESTS, PartialRequests

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example key
GUARD = 15.0  # seconds to wait for the node to close a connection before the test fails
BODY_START = b'{"title": "'  # of a body whose other bytes come slowly, or never
PAUSE = 0.02  # between two bytes of a trickled request
TIMEOUT = 0.5  # the head and body timeouts of the `node` fixture
CROWD = 400


class Client:
    """One raw TCP connection to the node."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.trickling: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, node: Node) -> Client:
        host, port = node.url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def trickle(self, data: bytes) -> None:
        """Send ``data`` a byte at a time, then more of the last header's value, a byte at a time, until the node
        closes the connection: a request whose head never ends."""
        self.trickling = asyncio.create_task(self._trickle(data))

    async def _trickle(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionError):
            for byte in iterate_bytes(data):
                await self.send(byte)
                await asyncio.sleep(PAUSE)
            while True:
                await self.send(b"a")
                await asyncio.sleep(PAUSE)

    async def response(self) -> tuple[int, bytes]:
        """The status and body of the next response (with a Content-Length) on this connection."""
        async with asyncio.timeout(GUARD):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            return status, await self.reader.readexactly(length)

    async def closed_by_node(self) -> bytes:
        """Everything the node sends until it closes the connection."""
        received = b""
        async with asyncio.timeout(GUARD):
            with contextlib.suppress(ConnectionError):  # a reset after the last byte: closed all the same
                while chunk := await self.reader.read(65536):
                    received += chunk
        await self.close()
        return received

    async def close(self) -> None:
        if self.trickling is not None:
            self.trickling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.trickling
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def iterate_bytes(data: bytes) -> Iterable[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def timed_out(answer: bytes, part: str) -> None:
    """``answer`` is exactly one 408 naming ``part`` ("headers" or "body") of the request, then the close."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in head.lower()
    error = json.loads(body)
    assert (error["error"], error["field"]) == ("request_timeout", part), error


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def unfinished_post(token: str | None) -> bytes:
    """The head of a POST that opens an incident (as the bearer of ``token``) with a body of 1000 bytes."""
    auth = [f"Authorization: {token}"] if token else []
    return request("POST", "/api/incidents", *auth, "Content-Type: application/json", "Content-Length: 1000")


def unfinished_upgrade() -> bytes:
    """A websocket upgrade to /live whose head never ends (a plain reader's, were it finished)."""
    return (
        b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\nX-Slow: "
    )


def partial_requests(node: Node) -> PartialRequests:
    found: PartialRequests = node.server.lifespan.state[PARTIAL_REQUESTS]
    return found


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    settings = node_settings(sqlite_url, header_timeout_seconds=TIMEOUT, body_timeout_seconds=TIMEOUT)
    async with running_node(settings) as running:
        yield running


async def test_a_head_sent_a_byte_at_a_time_is_answered_408_and_closed(node: Node) -> None:
    client = await Client.open(node)
    client.trickle(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    timed_out(await client.closed_by_node(), "headers")


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(node: Node) -> None:
    client = await Client.open(node)
    assert await client.closed_by_node() == b""


async def test_a_slow_head_of_a_later_request_on_a_kept_alive_connection_is_closed_too(node: Node) -> None:
    client = await Client.open(node)
    await client.send(request("GET", "/healthz"))
    assert (await client.response())[0] == 200
    client.trickle(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    timed_out(await client.closed_by_node(), "headers")


@pytest.mark.parametrize("at_once", [0, len(b"GET /live HTTP/1.1\r\n")], ids=["byte-by-byte", "first-line-at-once"])
async def test_a_slow_websocket_upgrade_to_live_is_closed(node: Node, at_once: int) -> None:
    upgrade = unfinished_upgrade()
    client = await Client.open(node)
    if at_once:  # starts like a plain reader's request, but its head is not all there
        await client.send(upgrade[:at_once])
    client.trickle(upgrade[at_once:])
    timed_out(await client.closed_by_node(), "headers")
    assert not node.services.hub.readers


async def test_a_body_sent_a_byte_at_a_time_is_answered_408_and_changes_nothing(node: Node) -> None:
    editor = await node.reporter()
    token = editor.http.headers["Authorization"]
    client = await Client.open(node)
    await client.send(unfinished_post(token))
    client.trickle(BODY_START)
    timed_out(await client.closed_by_node(), "body")
    assert await editor.call("GET", "/api/incidents") == {"incidents": []}


async def test_a_slow_body_already_answered_is_closed_without_a_second_answer(node: Node) -> None:
    client = await Client.open(node)
    await client.send(unfinished_post(token=None))  # refused (401) before the body is read
    client.trickle(BODY_START)
    answer = await client.closed_by_node()
    assert answer.startswith(b"HTTP/1.1 401 ") and answer.count(b"HTTP/1.1 ") == 1, answer


async def test_a_client_that_leaves_in_the_middle_of_its_body_changes_nothing(node: Node) -> None:
    editor = await node.reporter()
    token = editor.http.headers["Authorization"]
    client = await Client.open(node)
    await client.send(unfinished_post(token) + BODY_START)
    await eventually(lambda: len(node.server.server_state.tasks) == 1)  # the app waits for the rest
    await client.close()
    await eventually(lambda: not node.server.server_state.tasks)  # and was told the client left (no traceback)
    assert await editor.call("GET", "/api/incidents") == {"incidents": []}


async def test_requests_split_over_several_writes_within_the_timeouts_are_answered(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        token = editor.http.headers["Authorization"]
        body = json.dumps({"title": "Brand i hamnen"}).encode()
        post = request("POST", "/api/incidents", f"Authorization: {token}", "Content-Type: application/json", body=body)
        client = await Client.open(node)
        for whole in (request("GET", "/healthz"), post, request("GET", "/api/incidents")):  # one kept-alive connection
            for at in range(0, len(whole), 20):
                await client.send(whole[at : at + 20])
                await asyncio.sleep(PAUSE)
            status, answer = await client.response()
            assert status in (200, 201), answer
        assert [incident["title"] for incident in json.loads(answer)["incidents"]] == ["Brand i hamnen"]
        await client.close()


async def test_connections_past_their_requests_are_not_timed_out(node: Node) -> None:
    """Websockets (each way in) and an SSE stream live on well past the head and body timeouts."""
    editor = await node.reporter()
    slug = await editor.incident()
    direct = await LiveReader.open(node.ws_url)
    through_app = LiveReader(await connect(node.ws_url, additional_headers={"Cookie": "ticker_session=stale"}))
    split = await Client.open(node)  # a plain reader's upgrade in two writes: uvicorn's parser, then LiveHandshake
    upgrade = unfinished_upgrade().replace(b"X-Slow: ", b"\r\n")
    await split.send(upgrade[:30])
    await asyncio.sleep(PAUSE)
    await split.send(upgrade[30:])
    async with asyncio.timeout(GUARD):
        assert (await split.reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
    async with editor.http.stream("GET", f"/sse/{slug}") as stream:
        lines = stream.aiter_lines()
        await asyncio.sleep(4 * TIMEOUT)
        for reader in (direct, through_app):
            await reader.subscribe(slug)
        await split.send(json_frame({"type": "subscribe", "incident": slug}))
        posted = await editor.post(slug, "Räddningstjänsten är på plats.")
        for reader in (direct, through_app):
            assert (await reader.receive())["seq"] == posted["seq"]
        async with asyncio.timeout(GUARD):
            while not (line := await anext(lines)).startswith("data:") or '"entry.posted"' not in line:
                pass
            received = b""
            while b"entry.posted" not in received:
                received += await split.reader.read(65536)
    assert await opened(node) == {"direct": 2, "app": 1}
    for reader in (direct, through_app):
        await reader.close()
    await split.close()


def json_frame(message: dict[str, object]) -> bytes:
    return Frame(Opcode.TEXT, json.dumps(message).encode()).serialize(mask=True)


async def opened(node: Node) -> dict[str, int]:
    health: dict[str, dict[str, int]] = await node.clients[0].call("GET", "/healthz")
    return health["sockets_opened"]


async def crowd_of_slow_requests(node: Node, size: int) -> list[Client]:
    """``size`` connections, opened one after another, each with a request whose head has only begun."""
    crowd = []
    for _ in range(size):
        client = await Client.open(node)
        await client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        crowd.append(client)
    return crowd


async def a_reader_gets_a_post(node: Node) -> None:
    editor = await node.reporter()
    slug = await editor.incident()
    reader = await LiveReader.open(node.ws_url)
    await reader.subscribe(slug)
    posted = await editor.post(slug, "Räddningstjänsten är på plats.")
    event = await reader.receive()
    assert (event["event"], event["seq"]) == ("entry.posted", posted["seq"])
    await reader.close()


async def test_hundreds_of_slow_requests_leave_room_for_readers_and_are_all_closed(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, header_timeout_seconds=3.0)) as node:
        crowd = await crowd_of_slow_requests(node, CROWD)
        await eventually(lambda: len(node.server.server_state.connections) >= CROWD)  # all open at the node
        await a_reader_gets_a_post(node)
        for client in crowd:
            timed_out(await client.closed_by_node(), "headers")
        assert not partial_requests(node).waiting


async def test_above_max_partial_requests_the_oldest_is_closed(sqlite_url: str) -> None:
    limit = 100
    settings = node_settings(sqlite_url, header_timeout_seconds=60.0, max_partial_requests=limit)
    async with running_node(settings) as node:
        crowd = await crowd_of_slow_requests(node, CROWD)
        for client in crowd[: CROWD - limit]:  # each newcomer closed the oldest
            answer = await client.closed_by_node()
            timed_out(answer, "headers")
            assert b"too many" in answer
        assert len(partial_requests(node).waiting) == limit
        await a_reader_gets_a_post(node)  # its connections (each closing the oldest) go through
        assert len(partial_requests(node).waiting) <= limit
        newest = crowd[-1]  # still open and served when its request ends
        await newest.send(b"\r\n\r\n")
        assert (await newest.response())[0] == 200
        for client in crowd:
            await client.close()
