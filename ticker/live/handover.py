"""The uvicorn hand-over: the protocol classes that plug the live path into uvicorn, and the socket hand-over.

Two classes are uvicorn's settings (ticker.server). ``LiveHttpProtocol`` is its ``http`` setting: it looks at a
connection's first bytes, answers a plain reader whose whole request is there (ticker.live.direct), and hands any
other connection, untouched, to uvicorn's ``HttpToolsProtocol`` (as ``AppHttpProtocol``, which also ends SSE
streams when the server stops). ``LiveHandshake`` is its ``ws`` setting, for the upgrades that went that way (a
request split over several reads, say): it answers a plain reader the same way, and passes the rest (a newsroom
socket with its cookie, an origin to look up or refuse, a full node, any request out of the ordinary) to
``HandoverWebSocketProtocol`` and the app, which answers them as it always did. Once the app has accepted such a
socket, ``HandoverWebSocketProtocol.hand_over`` moves the transport to a ``LiveConnection`` and the ASGI task
ends: every reader ends up the same lean object, whichever way it came in.

Both HTTP classes also hold each request to its deadlines (ticker.partial_requests): the head is due within the
header timeout of the connection's opening (``LiveHttpProtocol`` arms it, ``AppHttpProtocol`` keeps it), or of a
later request's first byte; the body within the body timeout of the head. ``LiveHandshake`` needs none of its
own: uvicorn hands it a head its parser has already read whole, in time.

This is the one module that subclasses uvicorn's protocol classes and touches their attributes. ``UVICORN_NAMES``
lists every name of uvicorn's that the code relies on beyond its documented API (ticker.server's ``startup`` hook
included), and tests/test_uvicorn_contract.py checks that the installed uvicorn still has each of them, so an
upgrade that renames one fails in CI, not on a live node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from ticker.live.connection import CONNECTION_LOG, Detached, LiveConnection
from ticker.live.direct import LIVE_REQUEST, MAX_HEAD, open_direct
from ticker.live.gate import LANE_STATE, Lane
from ticker.partial_requests import PARTIAL_REQUESTS, late_request, partial_requests

HANDOVER_EXTENSION = "ticker.handover"  # the ASGI scope extension under which the /live endpoint finds hand_over

_HTTP = "uvicorn.protocols.http.httptools_impl"
_WS = "uvicorn.protocols.websockets.websockets_sansio_impl"
_SERVER = "uvicorn.server"
# Every uvicorn name the code relies on beyond uvicorn's documented API (uvicorn.run, uvicorn.Config, uvicorn.Server
# and their settings), with its kind: a module, a class, a method (a function the class has), an attribute (one
# its methods set on self). pyproject.toml's uvicorn range is the versions known to have them all.
UVICORN_NAMES: tuple[tuple[str, str], ...] = (
    (_HTTP, "module"),
    # AppHttpProtocol: a subclass that keeps each request's deadline and ends SSE streams at shutdown.
    (f"{_HTTP}.HttpToolsProtocol", "class"),
    (f"{_HTTP}.HttpToolsProtocol.on_message_begin", "method"),
    (f"{_HTTP}.HttpToolsProtocol.on_headers_complete", "method"),
    (f"{_HTTP}.HttpToolsProtocol.on_message_complete", "method"),
    (f"{_HTTP}.HttpToolsProtocol.connection_lost", "method"),
    (f"{_HTTP}.HttpToolsProtocol.shutdown", "method"),
    (f"{_HTTP}.HttpToolsProtocol._should_upgrade", "method"),
    (f"{_HTTP}.HttpToolsProtocol.handle_websocket_upgrade", "method"),  # hands the upgrade to LiveHandshake
    (f"{_HTTP}.HttpToolsProtocol.loop", "attribute"),
    (f"{_HTTP}.HttpToolsProtocol.transport", "attribute"),
    (f"{_HTTP}.HttpToolsProtocol.parser", "attribute"),
    (f"{_HTTP}.HttpToolsProtocol.cycle", "attribute"),
    (f"{_HTTP}.HttpToolsProtocol.server_state", "attribute"),
    (f"{_HTTP}.HttpToolsProtocol.app_state", "attribute"),
    (f"{_HTTP}.RequestResponseCycle", "class"),
    (f"{_HTTP}.RequestResponseCycle.response_started", "attribute"),
    (f"{_HTTP}.RequestResponseCycle.response_complete", "attribute"),
    (f"{_HTTP}.RequestResponseCycle.disconnected", "attribute"),
    # HandoverWebSocketProtocol: a subclass that hands an accepted socket to a LiveConnection.
    (_WS, "module"),
    (f"{_WS}.WebSocketsSansIOProtocol", "class"),
    (f"{_WS}.WebSocketsSansIOProtocol.handle_connect", "method"),
    (f"{_WS}.WebSocketsSansIOProtocol.stop_keepalive", "method"),
    (f"{_WS}.WebSocketsSansIOProtocol.conn", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.logger", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.scope", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.transport", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.connections", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.read_paused", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.handshake_complete", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.close_sent", "attribute"),
    (f"{_WS}.WebSocketsSansIOProtocol.disconnected", "attribute"),
    # What uvicorn gives every protocol class: its connections (each told to shut down) and default headers.
    (_SERVER, "module"),
    (f"{_SERVER}.ServerState", "class"),
    (f"{_SERVER}.ServerState.connections", "attribute"),
    (f"{_SERVER}.ServerState.default_headers", "attribute"),
    # ticker.server: a subclass of uvicorn's Server that runs a hook once the port is bound, and closes every reader
    # when it stops.
    (f"{_SERVER}.Server", "class"),
    (f"{_SERVER}.Server.startup", "method"),
    (f"{_SERVER}.Server.started", "attribute"),
    (f"{_SERVER}.Server.shutdown", "method"),  # and its lifespan's state: the Lane, to close every reader first
    (f"{_SERVER}.Server.lifespan", "attribute"),
    ("uvicorn.lifespan.on", "module"),
    ("uvicorn.lifespan.on.LifespanOn", "class"),
    ("uvicorn.lifespan.on.LifespanOn.state", "attribute"),
)


class HandoverWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, able to hand its socket to a LiveConnection after accept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = self.conn.logger = CONNECTION_LOG

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][HANDOVER_EXTENSION] = {"hand_over": self.hand_over}

    def hand_over(
        self, on_text: Callable[[str | None], None], on_lost: Callable[[], None], *, max_size: int, buffer_limit: int
    ) -> LiveConnection:
        """Give the accepted socket to a LiveConnection; this object and its ASGI task are done with it."""
        if not self.handshake_complete or self.close_sent or self.disconnected:
            raise RuntimeError("only an accepted, open websocket can be handed over")
        self.stop_keepalive()
        transport = self.transport
        live = LiveConnection(transport, self.connections, on_text, on_lost, max_size, buffer_limit)
        transport.set_protocol(live)
        if self.read_paused:
            transport.resume_reading()
        self.connections.discard(self)
        self.transport = Detached()  # type: ignore[assignment]  # uvicorn's own close after the task ends
        return live


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

    It stays the transport's protocol (uvicorn's ``handle_websocket_upgrade`` made it so) and forwards the
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
