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
        # one write may carry several frames (ticker.live.outbox)
        return [message for raw in self.frames for message in frame_messages(raw)]

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages() if m["type"] == "event"]


def frame_messages(data: bytes) -> list[dict[str, Any]]:
    """The messages of the text frames in ``data`` (a whole number of frames: a write never splits one)."""
    stream = StreamReader()
    stream.feed_data(data)
    found = []
    while stream.buffer:
        parser = Frame.parse(stream.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            found.append(json.loads(done.value.data))
        else:
            raise AssertionError("a write ended in the middle of a frame")
    return found
