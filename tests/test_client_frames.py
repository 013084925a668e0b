"""The frames a reader sends, as a real node reads them (ticker.live.client_frames, ticker.live.connection).

Raw TCP clients against a real node: each writes frames built by hand (masked or not, split anywhere, fragmented,
malformed) and reads what the node answers, down to its close frame and the end of the TCP connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import AsyncIterator

import pytest

from tests.support.node import Node, node_settings, running_node
from tests.support.waiting import eventually

MAX = 4096  # the node's largest message (ws_max_message_bytes) in these tests
GUARD = 10.0  # seconds to wait for an answer before the test fails


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
    """A frame as a client writes it (``mask=False``: a frame a client must not send)."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    if n < 126:
        size = bytes([n])
    else:
        size = bytes([126]) + struct.pack("!H", n) if n < 65536 else bytes([127]) + struct.pack("!Q", n)
    if not mask:
        return head + size + payload
    key = os.urandom(4)
    return head + bytes([size[0] | 0x80]) + size[1:] + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def subscribe(slug: str) -> bytes:
    return json.dumps({"type": "subscribe", "incident": slug}).encode()


class Client:
    """One websocket opened by hand on a raw TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, node: Node) -> Client:
        host, port = node.url.removeprefix("http://").split(":")
        client = cls(*await asyncio.open_connection(host, int(port)))
        key = base64.b64encode(os.urandom(16))
        await client.send(
            b"GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), GUARD)
        assert head.startswith(b"HTTP/1.1 101"), head
        return client

    async def send(self, data: bytes, one_byte_at_a_time: bool = False) -> None:
        for part in [data[i : i + 1] for i in range(len(data))] if one_byte_at_a_time else [data]:
            self.writer.write(part)
            await self.writer.drain()

    async def next_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the node's next frame (never masked)."""
        async with asyncio.timeout(GUARD):
            head, size = await self.reader.readexactly(2)
            assert not size & 0x80, "the node masked a frame"
            length = size & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return head & 0x0F, await self.reader.readexactly(length)

    async def message(self) -> dict[str, object]:
        opcode, payload = await self.next_frame()
        assert opcode == 0x1, (opcode, payload)
        reply: dict[str, object] = json.loads(payload)
        return reply

    async def closed_with(self) -> int:
        """The code of the node's close frame, after which the node ends the TCP connection."""
        while True:
            opcode, payload = await self.next_frame()
            if opcode == 0x8:
                break
        async with asyncio.timeout(GUARD):
            assert await self.reader.read() == b""  # the node closed the TCP connection
        code: int = struct.unpack("!H", payload[:2])[0]
        return code

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, ws_max_message_bytes=MAX)) as node:
        yield node


@pytest.fixture
async def slug(node: Node) -> str:
    return await (await node.reporter()).incident()


async def test_a_subscribe_sent_a_byte_at_a_time_is_answered(node: Node, slug: str) -> None:
    client = await Client.open(node)
    await client.send(frame(0x1, subscribe(slug)), one_byte_at_a_time=True)
    assert (await client.message())["type"] == "subscribed"
    client.close()


async def test_frames_sent_together_are_each_answered_in_order(node: Node, slug: str) -> None:
    client = await Client.open(node)
    await client.send(frame(0x1, subscribe(slug)))  # the incident's position loaded: a subscribe is answered at once
    assert (await client.message())["type"] == "subscribed"
    longest = b"x" * 125  # the longest control frame
    await client.send(frame(0x9, b"first") + frame(0x1, subscribe(slug)) + frame(0x9, longest))
    assert await client.next_frame() == (0xA, b"first")  # a pong with the ping's payload
    assert (await client.message())["type"] == "subscribed"  # held for the end of the turn, yet before the pong
    assert await client.next_frame() == (0xA, longest)
    client.close()


async def test_a_fragmented_message_with_a_ping_between_its_fragments_is_one_message(node: Node, slug: str) -> None:
    client = await Client.open(node)
    text = subscribe(slug)
    await client.send(
        frame(0x1, text[:5], fin=False) + frame(0x0, text[5:9], fin=False) + frame(0x9, b"between")
        + frame(0x0, text[9:])
    )  # fmt: skip
    assert await client.next_frame() == (0xA, b"between")
    assert (await client.message())["type"] == "subscribed"
    client.close()


async def test_a_message_with_a_16_bit_length_is_read(node: Node, slug: str) -> None:
    client = await Client.open(node)
    padded = json.dumps({"type": "subscribe", "incident": slug, "pad": "x" * 300}).encode()
    await client.send(frame(0x1, padded))
    reply = await client.message()
    assert reply["type"] in ("subscribed", "error")  # read whole: answered, whatever the protocol makes of "pad"
    client.close()


async def test_a_binary_message_is_answered_as_a_bad_message(node: Node) -> None:
    client = await Client.open(node)
    await client.send(frame(0x2, b"\x00\x01", fin=False) + frame(0x0, b"\x02"))
    reply = await client.message()
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    client.close()


BROKEN: dict[str, tuple[bytes, int]] = {
    "unmasked": (frame(0x1, b"{}", mask=False), 1002),
    "reserved bit": (frame(0x1, b"{}", rsv=0x40), 1002),
    "unknown opcode": (frame(0x3, b"{}"), 1002),
    "control frame too long": (frame(0x9, b"x" * 126), 1002),
    "fragmented ping": (frame(0x9, b"x", fin=False), 1002),
    "continuation first": (frame(0x0, b"{}"), 1002),
    "text inside a fragmented text": (frame(0x1, b"{", fin=False) + frame(0x1, b"}"), 1002),
    "frame longer than the largest message": (bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 40), 1009),
    "message longer than the largest": (frame(0x1, b"x" * MAX, fin=False) + frame(0x0, b"x"), 1009),
    "invalid UTF-8": (frame(0x1, b'{"type": "\xff"}'), 1007),
    "close frame of one byte": (frame(0x8, b"\x03"), 1002),
    "close code not allowed": (frame(0x8, struct.pack("!H", 999)), 1002),
    "close reason not UTF-8": (frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
}


async def test_each_frame_that_breaks_the_protocol_fails_the_connection(node: Node, slug: str) -> None:
    for case, (data, code) in BROKEN.items():  # one node for all: each case on a connection of its own
        client = await Client.open(node)
        await client.send(frame(0x1, subscribe(slug)))
        assert (await client.message())["type"] == "subscribed", case
        await client.send(data)
        assert await client.closed_with() == code, case
        await eventually(lambda: not node.services.hub.readers)  # and the reader left the hub
        client.close()


async def test_a_reader_that_closes_gets_its_close_code_back_and_the_tcp_close(node: Node, slug: str) -> None:
    client = await Client.open(node)
    await client.send(frame(0x1, subscribe(slug)))
    assert (await client.message())["type"] == "subscribed"
    await client.send(frame(0x8, struct.pack("!H", 1001) + "på väg".encode()) + frame(0x1, subscribe(slug)))
    assert await client.closed_with() == 1001  # its code echoed; the message after its close frame is dropped
    await eventually(lambda: not node.services.hub.readers)
    client.close()


async def test_a_close_without_a_code_is_answered_with_an_empty_close_frame(node: Node) -> None:
    client = await Client.open(node)
    await client.send(frame(0x8, b""))
    assert await client.next_frame() == (0x8, b"")
    async with asyncio.timeout(GUARD):
        assert await client.reader.read() == b""
    client.close()


async def test_the_node_closing_first_waits_for_the_readers_close_frame_and_answers_its_pings(
    node: Node, slug: str
) -> None:
    client = await Client.open(node)
    await client.send(frame(0x1, subscribe(slug)))
    assert (await client.message())["type"] == "subscribed"
    (reader,) = node.services.hub.readers
    reader.sink.close(4000, "too slow: resume from your last seq")
    opcode, payload = await client.next_frame()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 4000
    await client.send(frame(0x1, subscribe(slug)) + frame(0x9, b"still there"))
    assert await client.next_frame() == (0xA, b"still there")  # its message dropped, its ping answered
    await client.send(frame(0x8, payload[:2]))
    async with asyncio.timeout(GUARD):
        assert await client.reader.read() == b""  # the TCP close once its close frame came
    assert reader.sink.close_code == 4000  # type: ignore[attr-defined]
    client.close()
