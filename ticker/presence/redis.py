"""Viewer counts on every node, shared through Redis: this node's own hashes, every node's summed each round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Any

import redis.asyncio as aioredis

from ticker.background import Background
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.presence.memory import TABLES, MemoryPresence
from ticker.redis import REDIS_DOWN, client, presence_key

ROUNDS_TO_LIVE = 3  # a node's counts expire after this many missed rounds


class RedisPresence(MemoryPresence):
    def __init__(self, hub: Hub, url: str, interval: float, timeout: float) -> None:
        super().__init__(hub)
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.node = uuid.uuid4().hex
        self._others: dict[str, Counter[str]] = {t: Counter() for t in TABLES}  # other nodes, as of ``_others_at``
        self._others_at = -float("inf")
        self._task = Background("presence", self._share)

    def counts(self, table: str = "incidents") -> Counter[str]:
        """Counts on every node: this node's now, the others' as of the last round."""
        total = super().counts(table)
        if time.monotonic() - self._others_at < self.interval * ROUNDS_TO_LIVE:
            total.update(self._others[table])
        return total

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _share(self) -> None:
        redis = client(self.url, self.timeout)
        try:
            while True:
                try:
                    await self._round(redis)
                except REDIS_DOWN as exc:
                    log_event("presence_failed", logging.WARNING, error=repr(exc))
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(*REDIS_DOWN):
                await redis.delete(*(presence_key(t, self.node) for t in TABLES))
            await redis.aclose()

    async def _round(self, redis: aioredis.Redis) -> None:
        ttl_ms = max(1000, int(self.interval * ROUNDS_TO_LIVE * 1000))
        pipe = redis.pipeline(transaction=True)
        for table in TABLES:
            mine, key = self.local(table), presence_key(table, self.node)
            pipe.delete(key)
            if mine:
                pipe.hset(key, mapping=mine)  # type: ignore[arg-type]
                pipe.pexpire(key, ttl_ms)
        await pipe.execute()
        others: dict[str, Counter[str]] = {t: Counter() for t in TABLES}
        for table in TABLES:
            pattern, own = presence_key(table, "*"), presence_key(table, self.node)
            keys = [k async for k in redis.scan_iter(match=pattern, count=1000) if k.decode() != own]
            if keys:
                read = redis.pipeline(transaction=False)
                for k in keys:
                    read.hgetall(k)
                hashes: list[dict[Any, Any]] = await read.execute()
                for found in hashes:
                    others[table].update({name.decode(): int(n) for name, n in found.items()})
        self._others, self._others_at = others, time.monotonic()
