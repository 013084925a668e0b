"""Viewer counts: how many readers follow each incident now, and how many each partner's embeds have, across
every node.

A follower is a connection the hub fans out to (a reader page, an embed, a newsroom page) that follows exactly
one incident: a front page, which follows every live incident to keep its list fresh, follows none of them
in particular and is not counted. Embedded (one process), the local hub is the whole truth. With Redis, every
``presence_seconds`` each node replaces its own hashes ``ticker:presence:<table>:<node>`` (incident → count
and partner → count, with a TTL of a few rounds so a dead node's readers fade away) and sums every node's hashes
into tables it keeps in memory. A page asks those tables: no Redis call per request, nothing per reader per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from starlette.requests import HTTPConnection

from ticker.background import Background
from ticker.broker.redis import REDIS_DOWN
from ticker.config import Settings
from ticker.live.hub import Hub
from ticker.logs import log_event

PREFIX = "ticker:presence:"
TABLES = ("incidents", "partners")
ROUNDS_TO_LIVE = 3  # a node's counts expire after this many missed rounds
LOCAL_SECONDS = 1.0


class Presence:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        self.hub = hub
        self.interval = settings.presence_seconds
        self.redis_url = settings.redis_url
        self.node = uuid.uuid4().hex
        self._others: dict[str, Counter[str]] = {t: Counter() for t in TABLES}  # other nodes, as of ``_others_at``
        self._others_at = -float("inf")
        self._local: dict[str, dict[str, int]] = {t: {} for t in TABLES}
        self._local_at = -float("inf")
        self._task: Background | None = None

    def local(self, table: str = "incidents") -> dict[str, int]:
        """This node's counts, taken at most once a second (a walk over its readers)."""
        now = time.monotonic()
        if now - self._local_at >= LOCAL_SECONDS:
            incidents = {}
            for slug, topic in self.hub.topics.items():
                n = sum(1 for r in topic.followers() if len(r.topics) == 1)
                if n:
                    incidents[slug] = n
            partners = Counter(r.partner for r in self.hub.readers if r.partner is not None)
            self._local, self._local_at = {"incidents": incidents, "partners": dict(partners)}, now
        return self._local[table]

    def counts(self, table: str = "incidents") -> Counter[str]:
        """Counts on every node: this node's now, the others' as of the last round."""
        total = Counter(self.local(table))
        if time.monotonic() - self._others_at < self.interval * ROUNDS_TO_LIVE:
            total.update(self._others[table])
        return total

    def count(self, slug: str) -> int:
        return self.counts()[slug]

    def most_followed(self, limit: int) -> list[tuple[str, int]]:
        return [(slug, n) for slug, n in self.counts().most_common(limit) if n > 0]

    # Sharing through Redis.

    def start(self) -> None:
        if self.redis_url is not None:
            self._task = Background("presence", functools.partial(self._share, self.redis_url))
            self._task.start()

    async def stop(self) -> None:
        if self._task is not None:
            await self._task.stop()

    async def _share(self, url: str) -> None:
        client = aioredis.from_url(url, socket_timeout=max(1.0, self.interval), socket_connect_timeout=2.0)
        try:
            while True:
                try:
                    await self._round(client)
                except REDIS_DOWN as exc:
                    log_event("presence_failed", logging.WARNING, error=repr(exc))
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(*REDIS_DOWN):
                await client.delete(*(self._key(t) for t in TABLES))
            await client.aclose()

    def _key(self, table: str, node: str | None = None) -> str:
        return f"{PREFIX}{table}:{node or self.node}"

    async def _round(self, client: aioredis.Redis) -> None:
        ttl_ms = max(1000, int(self.interval * ROUNDS_TO_LIVE * 1000))
        pipe = client.pipeline(transaction=True)
        for table in TABLES:
            mine = self.local(table)
            pipe.delete(self._key(table))
            if mine:
                pipe.hset(self._key(table), mapping=mine)  # type: ignore[arg-type]
                pipe.pexpire(self._key(table), ttl_ms)
        await pipe.execute()
        others: dict[str, Counter[str]] = {t: Counter() for t in TABLES}
        for table in TABLES:
            pattern, own = self._key(table, "*"), self._key(table)
            keys = [k async for k in client.scan_iter(match=pattern, count=1000) if k.decode() != own]
            if keys:
                read = client.pipeline(transaction=False)
                for k in keys:
                    read.hgetall(k)
                hashes: list[dict[Any, Any]] = await read.execute()
                for found in hashes:
                    others[table].update({name.decode(): int(n) for name, n in found.items()})
        self._others, self._others_at = others, time.monotonic()


def presence(connection: HTTPConnection) -> Presence:
    found: Presence = connection.app.state.presence
    return found
