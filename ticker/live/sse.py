"""A reader's SSE stream as the hub sees it: one more Sink, bounded and written without awaiting.

The stream (ticker.http.sse serves it) carries the same messages as the websocket, one ``data:`` line each;
events and snapshots carry ``id: <seq>``, so the browser's own reconnect sends ``Last-Event-ID`` and resumes. The
hub hands this sink each message whole (``deliver``: its seq and payload beside the frame), so an event's SSE
bytes are built from them once (memoised: the fan-out hands every reader the same message), with no frame taken
apart and no JSON read again. A reader whose unsent bytes pass the bound gets ``event: close`` with code 4000.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from collections.abc import Callable

from ticker.errors import CloseCode
from ticker.live import frames
from ticker.live.frames import Framed


@functools.lru_cache(maxsize=16)
def sse_event(message: Framed) -> bytes:
    """One SSE event for a message; the same message object is a cache hit (by identity)."""
    head = b"id: %d\n" % message.seq if message.seq is not None else b""
    return head + b"data: " + message.payload + b"\n\n"


def close_event(code: int, reason: str) -> bytes:
    return b"event: close\ndata: " + json.dumps({"code": code, "reason": reason}).encode() + b"\n\n"


class SSESink:
    """A reader's SSE stream as the hub sees it (ticker.live.topic.Sink), taking messages whole (``deliver``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.ready = asyncio.Event()
        self.closing: tuple[int, str] | None = None

    def writer(self) -> Callable[[bytes], object]:
        return self.write

    def write(self, frame: bytes) -> None:
        """A message passed on as a bare frame (a desk panel's): it has no position, so its event has no id."""
        self.deliver(Framed(None, frames.payload(frame), frame))

    def deliver(self, message: Framed) -> None:
        if self.closing is not None:
            return  # going away: the stream's end drops it from the hub
        if self.size > self.limit:
            self.close(CloseCode.SLOW_READER, "too slow: resume from your last seq")
            return
        chunk = sse_event(message)
        self.chunks.append(chunk)
        self.size += len(chunk)
        self.ready.set()

    def ping(self) -> None:
        pass  # SSE streams keep alive with their own comment lines (sse_heartbeat_seconds)

    def answered(self) -> bool:
        return True  # a dead SSE peer shows as a failed write, not as a missing answer

    def close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
            self.ready.set()

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
        self.ready.clear()
        return data
