"""A reader's socket once its handshake is done: a lean asyncio protocol of our own, not an ASGI task.

Whichever way the reader came in (ticker.live.direct answered it, or the app accepted it and
ticker.live.handover moved the socket here), the hub writes once-built frames straight to the transport (no
ASGI send chain rebuilding the same frame and awaiting for every reader), and the few frames a reader sends are
parsed by the websockets library's sans-I/O ``Protocol``. An idle reader then costs a transport, that parser and
one small object: no task, no queue, no timer (heartbeats are sent by one loop in the hub for every reader).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from ticker.live.frames import PING
from ticker.live.outbox import outbox
from ticker.logs import log_event

CLOSE_TIMEOUT = 10.0  # a reader that does not answer our close frame is cut after this
# Per-connection lines (open, accepted, closed) are noise at 10,000 readers and cost CPU on every connect:
# they go to this child of uvicorn's logger, which ticker.log_format sets to WARNING; errors still show.
CONNECTION_LOG = logging.getLogger("uvicorn.error.connections")


class LiveConnection(asyncio.Protocol):
    """A reader's socket after the handshake. It is the hub's Sink: it can only write, ping and close."""

    __slots__ = (
        "_answered",
        "_connections",
        "_fragments",
        "_held",
        "_max_size",
        "_on_lost",
        "_on_text",
        "_open",
        "_outbox",
        "_ws",
        "transport",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        connections: set[Any],
        on_text: Callable[[str | None], None],
        on_lost: Callable[[], None],
        max_size: int,
        buffer_limit: int,
    ) -> None:
        self.transport = transport
        self._connections = connections
        connections.add(self)  # uvicorn calls shutdown() on it when stopping
        self._on_text = on_text
        self._on_lost = on_lost
        self._max_size = max_size
        self._ws = Protocol(Side.SERVER, state=State.OPEN, max_size=max_size, logger=CONNECTION_LOG)
        self._fragments: list[bytes] | None = None
        self._outbox = outbox()
        self._held: list[bytes] | None = None  # what the reader is sent this turn of the loop (ticker.live.outbox)
        self._answered = True
        self._open = True  # the websocket is OPEN: frames may still be written
        # Past this many unsent bytes the transport calls pause_writing(): the reader is too slow.
        transport.set_write_buffer_limits(high=buffer_limit)

    # The Sink protocol (ticker.live.topic.Sink).

    def writer(self) -> Callable[[bytes], object]:
        return self.transport.write  # the fan-out calls the transport directly: no Python frame per reader

    def hold(self, data: bytes) -> None:
        """Bytes for the reader, written with the rest of this turn's in one write at its end (the outbox)."""
        if not self._open:
            return  # nothing may follow the close frame
        if self._outbox.fanned:
            self._outbox.flush()  # events dispatched before these bytes go first
        held = self._held
        if held is None:
            self._held = [data]
            self._outbox.held(self)
        else:
            held.append(data)

    def release(self) -> None:
        """The turn's bytes, in one write (the outbox calls it once per turn)."""
        held, self._held = self._held, None
        if held and self._open:
            try:  # noqa: SIM105 (once per reader and turn: a with-statement costs more)
                self.transport.write(held[0] if len(held) == 1 else b"".join(held))
            except RuntimeError:
                pass  # its connection was lost a moment ago: the loss drops the reader

    def close(self, code: int, reason: str) -> None:
        if not self._open:
            return
        self._outbox.settle()  # what the reader was sent goes before the close frame
        try:
            self._ws.send_close(code, reason)
        except InvalidState:
            return
        self._flush()
        self._on_lost()  # out of the hub now: no frame may follow the close frame
        # A reader that stopped reading will never take our close frame: cut it after the timeout.
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.abort)

    def pause_writing(self) -> None:
        """The reader's unsent bytes passed the bound: close it (4000) once the current fan-out is done."""
        if self._open:
            asyncio.get_running_loop().call_soon(self._too_slow)

    def resume_writing(self) -> None:
        pass

    def _too_slow(self) -> None:
        if self._open:
            log_event("reader_too_slow")
            self.close(4000, "too slow: resume from your last seq")

    def ping(self) -> None:
        if self._open:
            self._answered = False
            self._outbox.settle()
            self.transport.write(PING)

    def answered(self) -> bool:
        return self._answered

    @property
    def close_code(self) -> int:
        """The code of the close frame sent, else of the one received; 1006: the connection ended without one."""
        frame = self._ws.close_sent or self._ws.close_rcvd
        return frame.code if frame is not None else 1006

    # What uvicorn calls.

    def shutdown(self) -> None:
        """The server is stopping: tell the reader to come back (1012) and resume elsewhere."""
        self.close(1012, "service restart")

    # asyncio.Protocol.

    def data_received(self, data: bytes) -> None:
        self._ws.receive_data(data)
        for frame in self._ws.events_received():
            if not isinstance(frame, Frame):
                continue
            if frame.opcode is Opcode.PONG:
                self._answered = True
            elif frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self._message(frame)
        self._flush()

    def _message(self, frame: Frame) -> None:
        if frame.opcode is not Opcode.CONT:
            self._fragments = [] if frame.opcode is Opcode.TEXT else None
        if self._fragments is None:  # binary: the protocol has none
            if frame.fin:
                self._on_text(None)
            return
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data, self._fragments = b"".join(self._fragments), None
        if len(data) > self._max_size:
            self._fail(1009, "message too big")
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self._fail(1007, "invalid UTF-8")
            return
        self._on_text(text)

    def _fail(self, code: int, reason: str) -> None:
        self._ws.fail(code, reason)
        self._flush()

    def _flush(self) -> None:
        sending = [data for data in self._ws.data_to_send() if data]
        if sending:
            self._outbox.settle()  # what the reader was sent goes first
        self._open = self._ws.state is State.OPEN
        for data in sending:
            self.transport.write(data)
        if self._ws.close_expected():
            self.transport.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        self._connections.discard(self)
        self._on_lost()


class Detached:
    """What uvicorn's protocol object holds after the hand-over (ticker.live.handover): its late calls reach
    nothing."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass
