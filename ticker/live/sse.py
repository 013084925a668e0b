"""A reader's SSE stream as the hub sees it: one more Sink, bounded and written without awaiting.

The stream (ticker.http.sse serves it) carries the same messages as the websocket, one ``data:`` line each;
events and snapshots carry ``id: <seq>``, so the browser's own reconnect sends ``Last-Event-ID`` and resumes. The
hub hands this sink each message whole (``deliver``: its seq and payload beside the frame), so an event's SSE
bytes are built from them once (memoised: the fan-out hands every reader the same message), with no frame taken
apart and no JSON read again. A reader whose unsent bytes pass the bound gets ``event: close`` with code 4000.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ticker.background import woken
from ticker.errors import CloseCode
from ticker.live import frames
from ticker.live.frames import Framed
from ticker.live.topic import Reader
from ticker.logs import session_closed, session_started

if TYPE_CHECKING:
    from ticker.live.hub import Hub

RETRY_MS = (1000, 4000)  # the browser's reconnect delay, drawn per stream so a restart does not stampede


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


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(self, hub: Hub, reader: Reader, sink: SSESink, heartbeat: float) -> None:
        super().__init__(
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}, media_type="text/event-stream"
        )
        del self.headers["content-length"]  # a stream: its length is not known
        self.hub, self.reader, self.sink, self.heartbeat = hub, reader, sink, heartbeat
        self.since = session_started()  # 0.0 unless its end is logged (DEBUG)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(self._watch(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.hub.disconnect(self.reader)
            code = self.sink.closing[0] if self.sink.closing else None  # None: the client left
            session_closed(self.since, "sse", code, self.reader.partner)

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        retry = b"retry: %d\n\n" % random.randint(*RETRY_MS)
        await send({"type": "http.response.body", "body": retry, "more_body": True})
        while True:
            if not await woken(self.sink.ready, self.heartbeat):
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                continue
            data = self.sink.take()
            if self.sink.closing is not None:
                data += close_event(*self.sink.closing)
                await send({"type": "http.response.body", "body": data, "more_body": False})
                return
            await send({"type": "http.response.body", "body": data, "more_body": True})
