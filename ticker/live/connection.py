"""A reader's socket once its handshake is done: a lean asyncio protocol of our own, not an ASGI task.

Whichever way the reader came in (ticker.live.direct answered it, or the app accepted it and
ticker.live.handover moved the socket here), the hub writes once-built frames straight to the transport (no
ASGI send chain rebuilding the same frame and awaiting for every reader), and the few frames a reader sends are
taken from its bytes by a function (ticker.live.client_frames), with no parser object kept between them. An
idle reader then costs a transport and one small object: no task, no queue, no timer (heartbeats are sent by
one loop in the hub for every reader).

The websocket's states (RFC 6455, section 7): open; closing, once our close frame is sent (the reader's close
frame is still awaited, and pings answered; its messages are dropped); done, once the reader's close frame came
(answered with ours, then the TCP connection is closed) or the connection was failed (a close frame with the
failure's code, then the TCP connection is closed at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ProtocolError
from websockets.frames import Close, CloseCode, Frame, Opcode

from ticker.live import client_frames
from ticker.live.client_frames import BINARY, CLOSE, CONT, PING, PONG
from ticker.live.frames import PING as PING_FRAME
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
        "_binary",
        "_close_code",
        "_connections",
        "_fragments",
        "_held",
        "_max_size",
        "_on_lost",
        "_on_text",
        "_open",
        "_outbox",
        "_reading",
        "_rest",
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
        self._rest: bytes | bytearray = b""  # the start of a frame still arriving
        self._fragments: list[bytes] | None = None  # a message still arriving, fragment by fragment
        self._binary = False  # that message is binary (the protocol has none: the session answers it as bad)
        self._outbox = outbox()
        self._held: list[bytes] | None = None  # what the reader is sent this turn of the loop (ticker.live.outbox)
        self._answered = True
        self._open = True  # the websocket is open: frames may still be written
        self._reading = True  # the reader's frames still matter: no close frame came, the connection did not fail
        self._close_code: int = CloseCode.ABNORMAL_CLOSURE  # of the close frame sent, else received (1006: neither)
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
        self._send_close(code, reason)
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
            self.transport.write(PING_FRAME)

    def answered(self) -> bool:
        return self._answered

    @property
    def close_code(self) -> int:
        """The code of the close frame sent, else of the one received; 1006: the connection ended without one."""
        return self._close_code

    # What uvicorn calls.

    def shutdown(self) -> None:
        """The server is stopping: tell the reader to come back (1012) and resume elsewhere."""
        self.close(1012, "service restart")

    # asyncio.Protocol.

    def data_received(self, data: bytes | bytearray) -> None:
        if not self._reading:
            return  # after a close frame, or a failure, the reader's bytes are dropped
        if self._rest:
            self._rest += data  # a bytearray: a frame trickling in a byte at a time is not copied again each time
            data = self._rest
        frames, rest, failure = client_frames.parse(data, self._max_size)
        self._rest = rest if isinstance(rest, bytearray) or not rest else bytearray(rest)
        for opcode, fin, payload in frames:
            if not self._reading:
                return
            if opcode == PONG:
                self._answered = True
            elif opcode == PING:
                self._send(Frame(Opcode.PONG, payload))
            elif opcode == CLOSE:
                self._closed_by_reader(payload)
            elif self._open:
                self._data(opcode, fin, payload)
        if failure is not None and self._reading:
            self._fail(failure.code, failure.reason)

    def _data(self, opcode: int, fin: bool, payload: bytes) -> None:
        """A data frame: a message whole, or a fragment of one (RFC 6455, section 5.4)."""
        if opcode == CONT:
            if self._fragments is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
                return
        elif self._fragments is not None:
            self._fail(CloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            return
        else:
            self._fragments, self._binary = [], opcode == BINARY
        fragments = self._fragments
        fragments.append(payload)
        if len(fragments) > 1 and sum(map(len, fragments)) > self._max_size:  # one frame: checked by its parse
            self._fail(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        if not fin:
            return
        self._fragments = None
        if self._binary:
            self._on_text(None)
            return
        try:
            text = (fragments[0] if len(fragments) == 1 else b"".join(fragments)).decode()
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return
        self._on_text(text)

    def _closed_by_reader(self, payload: bytes) -> None:
        """The reader's close frame: answered with the same code if ours was not sent, then the TCP close."""
        try:
            close = Close.parse(payload)
        except ProtocolError as exc:
            self._fail(CloseCode.PROTOCOL_ERROR, str(exc))
            return
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return
        self._reading = False
        if self._open:
            self._send_close_frame(close.code, payload)
        self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455, section 7.1.7): our close frame if not sent yet, then the TCP close."""
        self._reading = False
        if self._open:
            self._send_close(code, reason)
        self.transport.close()

    def _send_close(self, code: int, reason: str) -> None:
        self._send_close_frame(code, Close(code, reason).serialize())

    def _send_close_frame(self, code: int, payload: bytes) -> None:
        """Our close frame, after everything the reader was sent (held bytes are written while still open)."""
        self._send(Frame(Opcode.CLOSE, payload))
        self._close_code = code
        self._open = False

    def _send(self, frame: Frame) -> None:
        """A frame of the connection's own, after what the reader was sent before."""
        self._outbox.settle()
        self.transport.write(frame.serialize(mask=False))

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
