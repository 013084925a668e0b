"""The /live endpoint: the way in for a connection ``ticker.live.direct`` did not answer on its first bytes.

Starlette does the handshake, the origin and session checks and the decision to accept; then the socket is handed
over (ticker.live.handover) and its messages go to a ``LiveSession`` (ticker.live.session), as a direct reader's do.
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket

from ticker.errors import CloseCode
from ticker.http.node import node
from ticker.http.origins import admit_socket
from ticker.http.session_auth import reporter_session
from ticker.live.handover import HANDOVER_EXTENSION
from ticker.live.session import LiveSession
from ticker.logs import log_event


async def live(websocket: WebSocket) -> None:
    lane = node(websocket).lane
    hand_over = websocket.scope.get("extensions", {}).get(HANDOVER_EXTENSION, {}).get("hand_over")
    if hand_over is None:
        log_event("ws_refused", logging.ERROR, reason="server not started with ticker's websocket protocol")
        await websocket.close(CloseCode.SERVER_ERROR)
        return
    admitted = await admit_socket(lane.origins, websocket)  # 403 at the handshake for an origin that is not allowed
    if admitted is None:
        return
    owner = await reporter_session(websocket)  # a newsroom socket, closed when its session logs out
    await websocket.accept()
    lane.opened["app"] += 1
    session = LiveSession(lane, admitted, owner, way="app")
    connection = hand_over(
        session.received,
        session.lost,
        max_size=lane.settings.ws_max_message_bytes,
        buffer_limit=lane.settings.send_buffer_bytes,
    )
    if lane.hub.full:
        connection.close(CloseCode.TRY_AGAIN_LATER, "node is full")
        return
    session.start(connection)
