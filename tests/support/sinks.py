"""A Sink that records frames, for driving the hub directly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from websockets.frames import Frame
from websockets.streams import StreamReader


class RecordingSink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def writer(self) -> Callable[[bytes], object]:
        return self.frames.append

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def ping(self) -> None:
        pass

    def answered(self) -> bool:
        return True

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.frames:  # one write may carry several frames (ticker.live.outbox)
            reader = StreamReader()
            reader.feed_data(raw)
            while reader.buffer:
                parser = Frame.parse(reader.read_exact, mask=False)
                try:
                    next(parser)
                except StopIteration as done:
                    out.append(json.loads(done.value.data))
                else:
                    raise AssertionError("a write ended in the middle of a frame")
        return out

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages() if m["type"] == "event"]
