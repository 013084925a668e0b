"""The broker: the pipe between nodes and a short history for fast catch-up. Chosen by URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ticker.events import Message


class Broker(Protocol):
    """What the relay and the hub need. ``BrokerUnavailable`` means: try again later."""

    async def close(self) -> None: ...

    async def publish(self, messages: Sequence[Message]) -> None:
        """Append in order. A message whose (topic, seq) the broker already has is skipped, not an error."""

    async def history(self, topic: str, after: int, limit: int) -> list[Message]:
        """What the broker still holds of ``topic`` after seq ``after``, oldest first (it may start later)."""

    async def forget(self, topic: str) -> None:
        """Drop ``topic``'s history (its incident was deleted): nothing of it may be read back afterwards."""

    async def read(self, positions: Mapping[str, int], timeout: float) -> list[Message]:
        """Messages after the given seq of each topic; waits up to ``timeout`` seconds for some to arrive."""

    def wake(self) -> None:
        """End a pending ``read`` early (the set of topics changed)."""

    async def ping(self) -> None:
        """Raise BrokerUnavailable unless the broker answers now."""

    def describe(self) -> str: ...


def broker_for(redis_url: str | None, *, history: int, timeout: float = 5.0) -> Broker:
    if redis_url is None:
        from ticker.broker.memory import MemoryBroker

        return MemoryBroker(history=history)
    from ticker.broker.redis import RedisBroker

    return RedisBroker(redis_url, history=history, command_timeout=timeout)
