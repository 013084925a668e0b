"""The in-process broker: real history and blocking reads, for a single process (the embedded default)."""

from __future__ import annotations

import asyncio
import bisect
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence

from ticker.background import woken
from ticker.events import Message


class MemoryBroker:
    def __init__(self, history: int = 10_000) -> None:
        self._streams: defaultdict[str, deque[Message]] = defaultdict(lambda: deque(maxlen=history))
        self._changed = asyncio.Event()

    async def close(self) -> None:
        self._changed.set()

    async def publish(self, messages: Sequence[Message]) -> None:
        for message in messages:
            stream = self._streams[message.topic]
            if stream and message.seq <= stream[-1].seq:
                continue
            stream.append(message)
        self._changed.set()

    async def history(self, topic: str, after: int, limit: int) -> list[Message]:
        return self._after(topic, after, limit)

    async def forget(self, topic: str) -> None:
        self._streams.pop(topic, None)

    async def read(self, positions: Mapping[str, int], timeout: float) -> list[Message]:
        found = self._collect(positions)
        if found:
            return found
        self._changed.clear()
        if not await woken(self._changed, timeout):
            return []
        return self._collect(positions)

    def _collect(self, positions: Mapping[str, int]) -> list[Message]:
        return [m for topic, after in positions.items() for m in self._after(topic, after, 1000)]

    def _after(self, topic: str, after: int, limit: int) -> list[Message]:
        stream = self._streams.get(topic)
        if not stream:
            return []
        start = bisect.bisect_right(stream, after, key=lambda m: m.seq)
        return [stream[i] for i in range(start, min(len(stream), start + limit))]

    def wake(self) -> None:
        self._changed.set()

    def flush(self) -> None:
        """Forget all history, as a restarted Redis without persistence would."""
        self._streams.clear()

    async def ping(self) -> None:
        return None

    def describe(self) -> str:
        return "memory"
