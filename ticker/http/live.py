"""The live websocket: handshake and subscribe messages here; the hub owns the write path after accept."""

from __future__ import annotations

from starlette.websockets import WebSocket

from ticker.exceptions import CloseCode, NotFound
from ticker.http.origins import admit_socket
from ticker.http.session_auth import reporter_session
from ticker.hub import Sink
from ticker.logs import log_event
from ticker.partner_readers import opened_by
from ticker.services import services
from ticker.session import ProtocolError, Subscribe, parse
from ticker.transport import SINK_EXTENSION


async def live(websocket: WebSocket) -> None:
    svc = services(websocket)
    sink: Sink | None = websocket.scope.get("extensions", {}).get(SINK_EXTENSION, {}).get("sink")
    if sink is None:
        log_event("ws_refused", reason="server not started with ticker's websocket protocol")
        await websocket.close(CloseCode.SERVER_ERROR)
        return
    admitted = await admit_socket(websocket)  # 403 at the handshake for an origin that is not allowed
    if admitted is None:
        return
    owner = await reporter_session(websocket)  # a newsroom socket, closed when its session logs out
    await websocket.accept()
    if svc.hub.full:
        sink.close(CloseCode.TRY_AGAIN_LATER, "node is full")
        return
    reader = svc.hub.connect(sink, opened_by(websocket, admitted.partner))
    reader.owner = owner
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                request = parse(message.get("text"))
                if isinstance(request, Subscribe):
                    admitted.check_subscribe(request.incident)
                    await svc.hub.subscribe(reader, request.incident, request.since, request.epoch)
                else:
                    svc.hub.unsubscribe(reader, request.incident)
            except NotFound:
                reader.send(ProtocolError("unknown_incident", "no such incident", "incident").reply())
            except ProtocolError as error:
                reader.send(error.reply())
    finally:
        svc.hub.disconnect(reader)
