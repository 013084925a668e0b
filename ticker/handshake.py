"""The /live handshake straight from uvicorn's HTTP parser, without the ASGI app, for the common reader.

uvicorn hands every websocket upgrade to the class in its ``ws`` setting (``ticker.server``): this one. An
upgrade to /live without a session cookie, whose origin this node can admit from memory (``Lane.open_now``), is
answered here in one call: the 101, a ``LiveConnection`` and the hub. That is most readers, and it keeps a
connect to the cost of parsing a request and writing a response (docs/benchmarks.md). Every other upgrade (a
newsroom socket with its cookie, an origin to look up or refuse, a full node, any request out of the ordinary)
goes to ``HandoverWebSocketProtocol`` and the app, which answers it as before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from typing import Any, cast
from urllib.parse import parse_qsl

from ticker.http.live import LANE_STATE, Lane
from ticker.http.session_auth import SESSION_COOKIE
from ticker.transport import HandoverWebSocketProtocol, LiveConnection

LIVE_PATH = b"/live"
ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
COOKIE_MARK = SESSION_COOKIE.encode() + b"="


class LiveHandshake(asyncio.Protocol):
    """uvicorn's websocket protocol for every upgrade: answers plain readers itself, passes the rest on.

    It stays the transport's protocol (uvicorn sets it once ``data_received`` returns) and forwards the
    transport's calls to the protocol that took the connection over.
    """

    __slots__ = ("_app_state", "_config", "_next", "_server_state", "transport")

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._next: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._next is None:
            self._next = self._direct(data) or self._through_app(data)
        else:
            self._next.data_received(data)

    def _direct(self, data: bytes) -> LiveConnection | None:
        lane: Lane | None = self._app_state.get(LANE_STATE)
        request = plain_reader(data)
        if lane is None or request is None or self.transport is None:
            return None
        key, origin, partner = request
        session = lane.open_now(origin, partner)
        if session is None:
            return None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(key + ACCEPT_GUID).digest()) + b"\r\n\r\n"
        )
        connection = LiveConnection(
            self.transport,
            self._server_state.connections,
            session.received,
            session.lost,
            max_size=lane.settings.ws_max_message_bytes,
            buffer_limit=lane.settings.send_buffer_bytes,
        )
        session.start(connection)
        return connection

    def _through_app(self, data: bytes) -> HandoverWebSocketProtocol:
        protocol = HandoverWebSocketProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state
        )
        assert self.transport is not None
        protocol.connection_made(self.transport)
        protocol.data_received(data)
        return protocol

    # The rest of asyncio.Protocol, forwarded.

    def connection_lost(self, exc: Exception | None) -> None:
        if self._next is not None:
            self._next.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self._next.eof_received() if self._next is not None else None

    def pause_writing(self) -> None:
        if self._next is not None:
            self._next.pause_writing()

    def resume_writing(self) -> None:
        if self._next is not None:
            self._next.resume_writing()


def plain_reader(request: bytes) -> tuple[bytes, str | None, str | None] | None:
    """(Sec-WebSocket-Key, Origin, ?partner=) of a well-formed websocket upgrade to /live that carries no
    session cookie; None for anything else. ``request`` is the request as uvicorn passes it on: the request
    line, then one ``name: value`` line per header with the name in lower case."""
    lines = request.split(b"\r\n")
    method, target, version = [*lines[0].split(b" ", 2), b"", b""][:3]
    path, _, query = target.partition(b"?")
    if method != b"GET" or path != LIVE_PATH or version != b"HTTP/1.1":
        return None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(b": ")
        if not colon or name in headers:
            return None
        headers[name] = value
    if (
        headers.get(b"upgrade", b"").lower() != b"websocket"
        or b"upgrade" not in (token.strip() for token in headers.get(b"connection", b"").lower().split(b","))
        or headers.get(b"sec-websocket-version") != b"13"
        or COOKIE_MARK in headers.get(b"cookie", b"")
    ):
        return None
    key = headers.get(b"sec-websocket-key", b"")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    origin = headers.get(b"origin")
    partner = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("partner") if query else None
    return key, None if origin is None else origin.decode("latin-1"), partner
