"""The live websocket: who may open one, and a reader's messages once it is open.

There are two ways in. Most readers are answered by ``ticker.live.direct`` on their connection's first bytes,
through ``Lane.open_now``: no session cookie and an origin this node can admit from memory. Every other
connection reaches the ``live`` endpoint, where starlette does the handshake, origin and session checks and then
hands the socket over. Either way the connection ends up a ``LiveConnection`` (ticker.live.connection) whose messages
arrive in ``LiveSession.received`` and are handled one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ticker.config import Settings
from ticker.errors import CloseCode, Refused
from ticker.http.origins import Admission, OriginPolicy, admit_socket
from ticker.http.session_auth import reporter_session
from ticker.live.connection import HANDOVER_EXTENSION
from ticker.live.hub import Hub
from ticker.live.protocol import ProtocolError, Subscribe, Unsubscribe, parse
from ticker.live.topic import Reader, Sink
from ticker.logs import log_event, raised_at, session_closed, session_started
from ticker.partner_readers import PartnerReaders

LANE_STATE = "ticker.live_lane"  # the lifespan-state key under which the handshake finds the Lane

Incoming = Subscribe | Unsubscribe | ProtocolError  # a reader's message, parsed once: what it asks, or why not


@dataclass(eq=False)
class Lane:
    """What opening a live connection needs from the node, for both ways in."""

    settings: Settings
    hub: Hub
    origins: OriginPolicy
    partner_readers: PartnerReaders
    opened: Counter[str] = field(default_factory=Counter)  # connections opened, by way in (/healthz)
    stopping: bool = False

    def stop(self) -> None:
        """The server is stopping: every reader, SSE streams too, is told to come back (1012) at once."""
        if not self.stopping:
            self.stopping = True
            closed = self.hub.close_all(CloseCode.SERVICE_RESTART, "service restart")
            log_event("readers_closed", reason="node stopping", readers=closed)

    def open_now(self, origin: str | None, partner_name: str | None) -> LiveSession | None:
        """A session for a connection that can be admitted without waiting; None: the app decides."""
        admitted = self.origins.admit_now(origin, partner_name)
        if admitted is None or self.hub.full:
            return None
        self.opened["direct"] += 1
        return LiveSession(self, admitted, way="direct")


def lane(connection: HTTPConnection) -> Lane:
    found: Lane = connection.app.state.live_lane
    return found


async def live(websocket: WebSocket) -> None:
    node = lane(websocket)
    hand_over = websocket.scope.get("extensions", {}).get(HANDOVER_EXTENSION, {}).get("hand_over")
    if hand_over is None:
        log_event("ws_refused", logging.ERROR, reason="server not started with ticker's websocket protocol")
        await websocket.close(CloseCode.SERVER_ERROR)
        return
    admitted = await admit_socket(websocket)  # 403 at the handshake for an origin that is not allowed
    if admitted is None:
        return
    owner = await reporter_session(websocket)  # a newsroom socket, closed when its session logs out
    await websocket.accept()
    node.opened["app"] += 1
    session = LiveSession(node, admitted, owner, way="app")
    connection = hand_over(
        session.received,
        session.lost,
        max_size=node.settings.ws_max_message_bytes,
        buffer_limit=node.settings.send_buffer_bytes,
    )
    if node.hub.full:
        connection.close(CloseCode.TRY_AGAIN_LATER, "node is full")
        return
    session.start(connection)


class LiveSession:
    """A reader's messages after the handshake: subscribe and unsubscribe, handled in order."""

    def __init__(self, node: Lane, admitted: Admission, owner: int | None = None, way: str = "app") -> None:
        self.hub = node.hub
        self.way = way  # direct (ticker.live.direct) or app (starlette's handshake): the counts in /healthz
        self.since = session_started()  # 0.0 unless its end is logged (DEBUG)
        self.node = node
        self.admitted = admitted
        self.owner = owner
        self.reader: Reader | None = None
        self.inbox: deque[Incoming] = deque()
        self.task: asyncio.Task[None] | None = None

    def start(self, connection: Sink) -> None:
        """The connection is open: the reader joins the hub (tagged with the partner whose embed opened it)."""
        self.reader = self.hub.connect(connection, self.node.partner_readers.opened(self.admitted.partner))
        self.reader.owner = self.owner

    def received(self, text: str | None) -> None:
        reader = self.reader
        if reader is None:
            return
        request = _parsed(text, self.node.settings.max_json_depth)
        if self.task is None and self._at_once(reader, request):
            return
        if self._flooded(request):
            reader.sink.close(CloseCode.POLICY_VIOLATION, "too many messages at once")
            return
        self.inbox.append(request)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def _flooded(self, request: Incoming) -> bool:
        """Whether waiting ``request`` would pass the bound on a reader's waiting messages.

        What the protocol allows never counts: a page opens with one subscribe per card, up to
        ``max_subscriptions`` sent together, and they all wait behind the first one that needs a fetch. So one
        waiting subscribe per incident, for up to that many incidents, is free; ``ws_max_pending_messages`` more
        (any kind) may wait besides. The inbox is small (that bound), so counting it per message costs nothing."""
        settings = self.node.settings
        incidents = {r.incident for r in (*self.inbox, request) if isinstance(r, Subscribe)}
        return len(self.inbox) >= min(len(incidents), settings.max_subscriptions) + settings.ws_max_pending_messages

    def lost(self) -> None:
        """The connection is gone: the reader leaves the hub. A subscribe still running is left to finish (it
        sends nothing to a reader that left) rather than cancelled half-way through a database query or a Redis
        command, and whatever else the reader had sent is dropped."""
        self.inbox.clear()
        if self.reader is not None:
            self.hub.disconnect(self.reader)
            if self.since:  # the close code: sent, else received; 1006 without a close frame
                code = getattr(self.reader.sink, "close_code", None)
                session_closed(self.since, self.way, code, self.reader.partner)
                self.since = 0.0  # once: lost() may be called again

    def _at_once(self, reader: Reader, request: Incoming) -> bool:
        """Handle a message that needs no waiting (all but a subscribe that must fetch); False: queue it."""
        if isinstance(request, ProtocolError):
            reader.send(request.reply())
            return True
        try:
            if not isinstance(request, Subscribe):
                self.hub.unsubscribe(reader, request.incident)
                return True
            self.admitted.check_subscribe(request.incident)
            return self.hub.subscribe_at_once(reader, request.incident, request.since, request.epoch)
        except ProtocolError as error:
            reader.send(error.reply())
            return True

    async def _drain(self) -> None:
        try:
            while self.inbox and self.reader is not None:
                await self._handle(self.reader, self.inbox.popleft())
        finally:
            self.task = None

    async def _handle(self, reader: Reader, request: Incoming) -> None:
        if isinstance(request, ProtocolError):
            reader.send(request.reply())
            return
        try:
            if isinstance(request, Subscribe):
                self.admitted.check_subscribe(request.incident)
                await self.hub.subscribe(reader, request.incident, request.since, request.epoch)
            else:
                self.hub.unsubscribe(reader, request.incident)
        except Refused as refused:
            if refused.code == "not_found":
                reader.send(ProtocolError("unknown_incident", "no such incident", "incident").reply())
            elif refused.code == "gone":
                self.hub.tell_deleted(reader, request.incident)
            else:
                raise
        except ProtocolError as error:
            reader.send(error.reply())
        except Exception as exc:  # the store is away, say: the reader comes back and resumes (1013)
            log_event("subscribe_failed", logging.WARNING, error=repr(exc), at=raised_at(exc))
            self.inbox.clear()
            reader.sink.close(CloseCode.TRY_AGAIN_LATER, "try again later")


def _parsed(text: str | None, max_depth: int) -> Incoming:
    try:
        return parse(text, max_depth)
    except ProtocolError as error:
        return error.with_traceback(None)  # it may wait in the inbox: without the frames of its parse
