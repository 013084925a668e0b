"""The /live handshake without the ASGI app, for the common reader; uvicorn's own path for everything else.

A plain reader (a websocket upgrade to /live without a session cookie, whose origin this node can admit from
memory: ``Lane.open_now``) is answered in one call: the 101, a ``LiveConnection`` and the hub. That is most
readers, and it keeps a connect to the cost of reading a request and writing a response (docs/benchmarks.md).

Two classes plug this into uvicorn. ``LiveHttpProtocol`` is its ``http`` setting: it looks at a connection's
first bytes, answers a plain reader whose whole request is there, and hands any other connection, untouched,
to uvicorn's ``HttpToolsProtocol`` (as ``AppHttpProtocol``, which also ends SSE streams when the server
stops). ``LiveHandshake`` is its ``ws`` setting, for the upgrades that went that way (a request split over
several reads, say): it answers a plain reader the same way, and passes the rest (a newsroom socket with its
cookie, an origin to look up or refuse, a full node, any request out of the ordinary) to
``HandoverWebSocketProtocol`` and the app, which answers them as it always did.

Both HTTP classes also hold each request to its deadlines (ticker.partial_requests): the head is due within the
header timeout of the connection's opening (``LiveHttpProtocol`` arms it, ``AppHttpProtocol`` keeps it), or of a
later request's first byte; the body within the body timeout of the head. ``LiveHandshake`` needs none of its
own: uvicorn hands it a head its parser has already read whole, in time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from typing import Any, cast
from urllib.parse import parse_qsl

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ticker.http.live import LANE_STATE, Lane
from ticker.http.session_auth import SESSION_COOKIE
from ticker.partial_requests import PARTIAL_REQUESTS, late_request, partial_requests
from ticker.transport import HandoverWebSocketProtocol, LiveConnection

LIVE_REQUEST = b"GET /live"  # what the first bytes of a reader's connection start with
ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
COOKIE_MARK = SESSION_COOKIE.encode() + b"="
MAX_HEAD = 8192  # a longer request goes uvicorn's way, with its limits
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110, section 5.1)


class LiveHttpProtocol(asyncio.Protocol):
    """uvicorn's HTTP protocol class: a plain reader is answered on its first bytes, the rest go to uvicorn.

    From the moment the connection opens its first request's head is due within the header timeout
    (ticker.partial_requests); a connection that sends nothing by then is closed.
    """

    __slots__ = ("_app_state", "_config", "_deadline", "_loop", "_partial", "_server_state", "transport")

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass
        partial = self._partial = self._app_state.get(PARTIAL_REQUESTS) or partial_requests(self._app_state)
        self._deadline = partial.loop.call_later(partial.head_timeout, self.expire)
        partial.add(transport, self)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if data.startswith(LIVE_REQUEST):
            end = data.find(b"\r\n\r\n", 0, MAX_HEAD) + 4
            if end >= 4:
                connection = open_direct(self._app_state, transport, self._server_state, data[:end])
                if connection is not None:
                    self._deadline.cancel()
                    self._partial.discard(transport)
                    transport.set_protocol(connection)
                    if end < len(data):  # frames sent right behind the request
                        connection.data_received(data[end:])
                    return
        http = AppHttpProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state, _loop=self._loop
        )
        http.connection_made(transport)
        transport.set_protocol(http)
        http.take_over(self._deadline)
        http.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()  # closed before it sent a request
        self._partial.discard(cast(asyncio.Transport, self.transport))

    def expire(self, evicted: bool = False) -> None:
        """Nothing arrived in time (or too many connections wait for their requests): close, with no answer,
        since there is no request to answer."""
        self._deadline.cancel()
        transport = cast(asyncio.Transport, self.transport)
        self._partial.discard(transport)
        transport.close()


class AppHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, which also ends slow requests and tells the node when the server stops.

    Each request's head and body must arrive in time (ticker.partial_requests): a deadline is armed when a
    request begins, moved on when its head is complete, and cancelled when the whole request is in. A request
    that misses it is answered 408 and its connection closed.

    uvicorn waits for running responses before the app's shutdown, up to its graceful-shutdown timeout; an SSE
    stream would run that long. The first connection told to shut down closes every reader (``Lane.stop``), so
    SSE streams end at once with a 1012 ``close`` event and their browsers resume on another node.
    """

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.partial = partial_requests(app_state)
        self.deadline: asyncio.TimerHandle | None = None  # set while a request is arriving
        self.in_body = False

    def take_over(self, deadline: asyncio.TimerHandle) -> None:
        """The first request's head stays due when it was due to LiveHttpProtocol, which opened the connection."""
        deadline.cancel()
        self.deadline = self.loop.call_at(deadline.when(), self.expire)
        self.partial.hand_over(self.transport, self)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a later request on a keep-alive connection
            self.deadline = self.loop.call_later(self.partial.head_timeout, self.expire)
            self.partial.add(self.transport, self)

    def on_headers_complete(self) -> None:
        self._stop_deadline()
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            self.partial.discard(self.transport)  # a websocket: uvicorn hands the connection to LiveHandshake
            return
        self.in_body = True  # until on_message_complete, at once for a request without a body
        self.deadline = self.loop.call_later(self.partial.body_timeout, self.expire)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_body = False
        self._stop_deadline()
        self.partial.discard(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._stop_deadline()
        self.partial.discard(self.transport)

    def expire(self, evicted: bool = False) -> None:
        self._stop_deadline()
        transport = self.transport
        self.partial.discard(transport)
        if transport.is_closing():
            return
        cycle: RequestResponseCycle | None = self.cycle
        # In the head, self.cycle is the previous request's: an answer to it may still be on its way.
        answered = cycle is not None and (cycle.response_started if self.in_body else not cycle.response_complete)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's answer, if it still comes, goes nowhere
        if not answered:
            transport.write(late_request(self.partial, self.in_body, evicted, self.server_state.default_headers))
        transport.close()

    def _stop_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def shutdown(self) -> None:
        lane: Lane | None = self.app_state.get(LANE_STATE)
        if lane is not None:
            lane.stop()
        super().shutdown()


class LiveHandshake(asyncio.Protocol):
    """uvicorn's websocket protocol class: answers plain readers itself, passes the rest to the app.

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
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._next is None:
            assert self.transport is not None
            self._next = open_direct(self._app_state, self.transport, self._server_state, data)
            if self._next is None:
                self._next = self._through_app(data)
        else:
            self._next.data_received(data)

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


def open_direct(
    app_state: dict[str, Any], transport: asyncio.Transport, server_state: Any, head: bytes
) -> LiveConnection | None:
    """Answer a plain reader's upgrade request (``head``, up to its blank line) and open its connection;
    None, having written nothing, for any other request."""
    lane: Lane | None = app_state.get(LANE_STATE)
    request = plain_reader(head)
    if lane is None or request is None:
        return None
    key, origin, partner = request
    session = lane.open_now(origin, partner)
    if session is None:
        return None
    transport.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(key + ACCEPT_GUID).digest()) + b"\r\n\r\n"
    )
    connection = LiveConnection(
        transport,
        server_state.connections,
        session.received,
        session.lost,
        max_size=lane.settings.ws_max_message_bytes,
        buffer_limit=lane.settings.send_buffer_bytes,
    )
    session.start(connection)
    return connection


def plain_reader(head: bytes) -> tuple[bytes, str | None, str | None] | None:
    """(Sec-WebSocket-Key, Origin, ?partner=) of a well-formed websocket upgrade to /live that carries no
    session cookie; None for anything else. ``head`` is the request line and the header lines, as a client
    sent them or as uvicorn passes them on."""
    lines = head.split(b"\r\n")
    method, target, version = [*lines[0].split(b" ", 2), b"", b""][:3]
    path, _, query = target.partition(b"?")
    if method != b"GET" or path != b"/live" or version != b"HTTP/1.1":
        return None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            return None
        name = name.lower()
        if name in headers:
            return None
        headers[name] = value.strip(b" \t")
    connection = headers.get(b"connection", b"").lower()
    if (
        headers.get(b"upgrade", b"").lower() != b"websocket"
        or (connection != b"upgrade" and b"upgrade" not in [token.strip() for token in connection.split(b",")])
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
