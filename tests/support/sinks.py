"""A Sink that records frames, for driving the hub directly."""

from __future__ import annotations

import json
from typing import Any

from websockets.frames import Frame
from websockets.streams import StreamReader


class RecordingSink:
    def __init__(self, limit: int | None = None) -> None:
        self.frames: list[bytes] = []
        self.limit = limit  # refuse writes (as a full send buffer would) after this many frames
        self.closed: tuple[int, str] | None = None

    def write(self, frame: bytes) -> bool:
        if self.limit is not None and len(self.frames) >= self.limit:
            return False
        self.frames.append(frame)
        return True

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.frames:
            reader = StreamReader()
            reader.feed_data(raw)
            parser = Frame.parse(reader.read_exact, mask=False)
            try:
                next(parser)
            except StopIteration as done:
                out.append(json.loads(done.value.data))
        return out

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages() if m["type"] == "event"]
