"""Viewer counts: how many readers follow each incident now, across every node.

A follower is a connection the hub fans out to (a reader page, an embed, a newsroom page) that follows exactly
one incident: a front page, which follows every live incident to keep its list fresh, follows none of them
in particular and is not counted. Embedded (one process), the local hub is the whole truth. With Redis, every
``presence_seconds`` each node replaces its own hash ``ticker:presence:<node>`` (incident → count, with a TTL
of a few rounds so a dead node's readers fade away) and sums every node's hash into a table it keeps in memory.
A page asks that table: no Redis call per request, and nothing per reader per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from itertools import chain
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from ticker.config import Settings
from ticker.hub import Hub
from ticker.logs import log_event

PREFIX = "ticker:presence:"
ROUNDS_TO_LIVE = 3  # a node's counts expire after this many missed rounds
LOCAL_SECONDS = 1.0


class Presence:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        self.hub = hub
        self.interval = settings.presence_seconds
        self.redis_url = settings.redis_url
        self.key = PREFIX + uuid.uuid4().hex
        self._others: Counter[str] = Counter()  # every other node's counts, as of ``_others_at``
        self._others_at = -float("inf")
        self._local: dict[str, int] = {}
        self._local_at = -float("inf")
        self._task: asyncio.Task[None] | None = None

    def local(self) -> dict[str, int]:
        """This node's followers per incident, counted at most once a second (a walk over its readers)."""
        now = time.monotonic()
        if now - self._local_at >= LOCAL_SECONDS:
            counts = {}
            for slug, topic in self.hub.topics.items():
                n = sum(1 for r in chain(topic.live, topic.joining) if len(r.topics) == 1)
                if n:
                    counts[slug] = n
            self._local, self._local_at = counts, now
        return self._local

    def counts(self) -> Counter[str]:
        """Followers per incident on every node: this node's now, the others' as of the last round."""
        total = Counter(self.local())
        if time.monotonic() - self._others_at < self.interval * ROUNDS_TO_LIVE:
            total.update(self._others)
        return total

    def count(self, slug: str) -> int:
        return self.counts()[slug]

    def most_followed(self, limit: int) -> list[tuple[str, int]]:
        return [(slug, n) for slug, n in self.counts().most_common(limit) if n > 0]

    # Sharing through Redis.

    def start(self) -> None:
        if self.redis_url is not None:
            self._task = asyncio.get_running_loop().create_task(self._share(self.redis_url), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _share(self, url: str) -> None:
        client = aioredis.from_url(url, socket_timeout=max(1.0, self.interval), socket_connect_timeout=2.0)
        try:
            while True:
                try:
                    await self._round(client)
                except (RedisError, OSError) as exc:
                    log_event("presence_failed", error=repr(exc))
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await client.delete(self.key)
            await client.aclose()

    async def _round(self, client: aioredis.Redis) -> None:
        ttl_ms = max(1000, int(self.interval * ROUNDS_TO_LIVE * 1000))
        mine = self.local()
        pipe = client.pipeline(transaction=True)
        pipe.delete(self.key)
        if mine:
            pipe.hset(self.key, mapping=mine)  # type: ignore[arg-type]
            pipe.pexpire(self.key, ttl_ms)
        await pipe.execute()
        keys = [k async for k in client.scan_iter(match=PREFIX + "*", count=1000) if k.decode() != self.key]
        others: Counter[str] = Counter()
        if keys:
            read = client.pipeline(transaction=False)
            for k in keys:
                read.hgetall(k)
            hashes: list[dict[Any, Any]] = await read.execute()
            for found in hashes:
                others.update({slug.decode(): int(n) for slug, n in found.items()})
        self._others, self._others_at = others, time.monotonic()


def presence(connection: HTTPConnection) -> Presence:
    found: Presence = connection.app.state.presence
    return found
