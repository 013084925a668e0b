"""uvicorn's sans-I/O websocket protocol, plus a direct write path for the hub.

Starlette keeps routing, the handshake, auth, origin checks and the subscribe messages. After ``accept`` the
endpoint hands this protocol object to the hub as its Sink: the hub then writes once-built frames straight
to the transport, bypassing the ASGI send chain (which would rebuild the same frame and await for every
reader). Exposed to the app as the ASGI scope extension ``ticker.sink``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

SINK_EXTENSION = "ticker.sink"
SEND_BUFFER_STATE = "ticker.send_buffer_bytes"  # set in the lifespan state by the app


class SinkWebSocketProtocol(WebSocketsSansIOProtocol):
    send_buffer_bytes = 256 * 1024

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        self.send_buffer_bytes = self.app_state.get(SEND_BUFFER_STATE, self.send_buffer_bytes)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][SINK_EXTENSION] = {"sink": self}

    # The Sink protocol (ticker.hub.Sink).

    def write(self, frame: bytes) -> bool:
        if self.close_sent or self.disconnected:
            return True  # going away: the endpoint's disconnect will drop it from the hub
        transport = self.transport
        if transport.get_write_buffer_size() > self.send_buffer_bytes:
            return False
        transport.write(frame)
        return True

    def close(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected:
            return
        try:
            self.conn.send_close(code, reason)
        except InvalidState:
            return
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # A reader that stopped reading will never take our close frame: cut it after the close timeout.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
