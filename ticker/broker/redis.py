"""Redis Streams broker: one stream per incident, entry ids taken from seq, approximate MAXLEN.

Explicit ids make publishing idempotent: Redis refuses an id at or below the stream's top, so a relay that
publishes an event twice (after a crash, or two nodes at once) cannot add a twin. Blocking reads use a client
of their own (ticker.redis), so a dead peer (a stalled network, a frozen Redis) raises instead of hanging the
listener forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from ticker.errors import BrokerUnavailable
from ticker.events import Message
from ticker.redis import FIELD, REDIS_DOWN, client, stream_key, topic_of, wake_key, xread_entries


def _seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


class RedisBroker:
    def __init__(self, url: str, *, history: int = 10_000, command_timeout: float = 5.0) -> None:
        self.url = url
        self.history_length = history
        self.command_timeout = command_timeout
        self._wake_key = wake_key(uuid.uuid4().hex)
        self._commands = client(url, command_timeout)
        self._reader: aioredis.Redis | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self._drop_reader()
        with contextlib.suppress(*REDIS_DOWN):
            await self._commands.delete(self._wake_key)
        await self._commands.aclose()

    async def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        pipe = self._commands.pipeline(transaction=False)
        for m in messages:
            pipe.xadd(
                stream_key(m.topic),
                {FIELD: m.payload},
                id=f"{m.seq}-0",
                maxlen=self.history_length,
                approximate=True,
            )
        try:
            results = await pipe.execute(raise_on_error=False)
        except REDIS_DOWN as exc:
            raise BrokerUnavailable(f"publish failed: {exc!r}") from exc
        for result in results:
            if isinstance(result, ResponseError) and "equal or smaller" in str(result):
                continue  # already published: the explicit id keeps it single
            if isinstance(result, Exception):
                raise BrokerUnavailable(f"publish failed: {result!r}")

    async def history(self, topic: str, after: int, limit: int) -> list[Message]:
        try:
            entries: Any = await self._commands.xrange(stream_key(topic), min=f"({after}-0", max="+", count=limit)
        except REDIS_DOWN as exc:
            raise BrokerUnavailable(f"history failed: {exc!r}") from exc
        return [Message(topic, _seq(entry_id), fields[FIELD]) for entry_id, fields in entries]

    async def forget(self, topic: str) -> None:
        try:
            await self._commands.delete(stream_key(topic))
        except REDIS_DOWN as exc:
            raise BrokerUnavailable(f"forget failed: {exc!r}") from exc

    async def read(self, positions: Mapping[str, int], timeout: float) -> list[Message]:
        streams: dict[Any, Any] = {stream_key(t): f"{seq}-0" for t, seq in positions.items()}
        streams[self._wake_key] = "$"
        if self._reader is None:
            self._reader = client(self.url, self.command_timeout, block_seconds=timeout)
        try:
            reply = await self._reader.xread(streams, count=1000, block=max(1, int(timeout * 1000)))
        except BaseException as exc:
            await self._drop_reader()
            if isinstance(exc, REDIS_DOWN):
                raise BrokerUnavailable(f"read failed: {exc!r}") from exc
            raise
        return [
            Message(topic, _seq(entry_id), fields[FIELD])
            for key, entries in xread_entries(reply)
            if (topic := topic_of(key)) is not None
            for entry_id, fields in entries
        ]

    def wake(self) -> None:
        # A lost wake only delays a new topic's first events by one block timeout.
        task = asyncio.get_running_loop().create_task(self._wake())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake(self) -> None:
        try:
            await self._commands.xadd(self._wake_key, {b"w": b"1"}, maxlen=1, approximate=False)
            await self._commands.expire(self._wake_key, 3600)
        except REDIS_DOWN:
            pass

    async def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(*REDIS_DOWN):
                await reader.aclose()

    def describe(self) -> str:
        return "redis"

    async def ping(self) -> None:
        try:
            await self._commands.ping()
        except REDIS_DOWN as exc:
            raise BrokerUnavailable(f"ping failed: {exc!r}") from exc
