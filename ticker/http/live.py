"""The live websocket: starlette does the handshake, origin and session checks; then the socket is handed over.

After ``accept`` the connection becomes a ``LiveConnection`` (ticker.transport) and this endpoint returns. The
reader's later messages arrive in ``LiveSession.received`` and are handled one at a time, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.websockets import WebSocket

from ticker.exceptions import CloseCode, NotFound
from ticker.http.origins import Admission, admit_socket
from ticker.http.session_auth import reporter_session
from ticker.hub import Hub, Reader
from ticker.logs import log_event
from ticker.partner_readers import opened_by
from ticker.services import services
from ticker.session import ProtocolError, Subscribe, parse
from ticker.transport import HANDOVER_EXTENSION


async def live(websocket: WebSocket) -> None:
    svc = services(websocket)
    hand_over = websocket.scope.get("extensions", {}).get(HANDOVER_EXTENSION, {}).get("hand_over")
    if hand_over is None:
        log_event("ws_refused", reason="server not started with ticker's websocket protocol")
        await websocket.close(CloseCode.SERVER_ERROR)
        return
    admitted = await admit_socket(websocket)  # 403 at the handshake for an origin that is not allowed
    if admitted is None:
        return
    owner = await reporter_session(websocket)  # a newsroom socket, closed when its session logs out
    await websocket.accept()
    session = LiveSession(svc.hub, admitted, svc.settings.ws_max_pending_messages)
    connection = hand_over(
        session.received,
        session.lost,
        max_size=svc.settings.ws_max_message_bytes,
        buffer_limit=svc.settings.send_buffer_bytes,
    )
    if svc.hub.full:
        connection.close(CloseCode.TRY_AGAIN_LATER, "node is full")
        return
    session.reader = svc.hub.connect(connection, opened_by(websocket, admitted.partner))
    session.reader.owner = owner


class LiveSession:
    """A reader's messages after the handshake: subscribe and unsubscribe, handled in order."""

    def __init__(self, hub: Hub, admitted: Admission, max_pending: int) -> None:
        self.hub = hub
        self.admitted = admitted
        self.max_pending = max_pending
        self.reader: Reader | None = None
        self.inbox: deque[str | None] = deque()
        self.task: asyncio.Task[None] | None = None

    def received(self, text: str | None) -> None:
        if self.reader is None:
            return
        if len(self.inbox) >= self.max_pending:
            self.reader.sink.close(CloseCode.POLICY_VIOLATION, "too many messages at once")
            return
        self.inbox.append(text)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def lost(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.reader is not None:
            self.hub.disconnect(self.reader)

    async def _drain(self) -> None:
        try:
            while self.inbox and self.reader is not None:
                await self._handle(self.reader, self.inbox.popleft())
        finally:
            self.task = None

    async def _handle(self, reader: Reader, text: str | None) -> None:
        try:
            request = parse(text)
            if isinstance(request, Subscribe):
                self.admitted.check_subscribe(request.incident)
                await self.hub.subscribe(reader, request.incident, request.since, request.epoch)
            else:
                self.hub.unsubscribe(reader, request.incident)
        except NotFound:
            reader.send(ProtocolError("unknown_incident", "no such incident", "incident").reply())
        except ProtocolError as error:
            reader.send(error.reply())
