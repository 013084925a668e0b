"""Each node's figures: read from its parts for /metrics, and shared with every node for /desk/status.

A node is one process (``--workers N`` makes N of them). Every ``node_stats_seconds`` a node takes its figures
(readers, incidents, deliveries per second since the last round, the relay's lag, the broker's state) and, with
Redis, writes them to ``ticker:nodes:<id>`` (a TTL of a few rounds, so a dead node drops off the page) and reads
every other node's, as ticker.presence shares viewer counts; without Redis the node is alone and its own figures
are the whole page. The status page asks this memory: no Redis call per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from ticker.background import Background
from ticker.config import Settings
from ticker.events import isoformat
from ticker.live.hub import Hub
from ticker.live.sse import SSESink
from ticker.log_format import node_name
from ticker.logs import log_event
from ticker.redis import REDIS_DOWN, client, nodes_key
from ticker.relay import Relay
from ticker.store.sql import Store

ROUNDS_TO_LIVE = 3  # a node's figures expire after this many missed rounds


@dataclass(frozen=True)
class NodeFigures:
    """What a node's state says at one moment: the hub's, the relay's and the store's own counts."""

    readers: Mapping[str, int]  # by transport: websocket, sse
    subscriptions: int
    incidents: int
    delivered: int
    listening: bool
    relay_healthy: bool
    published: int
    catchups: Mapping[str, int]  # node, broker, store, snapshot, snapshot_queries
    opened: Mapping[str, int]  # websockets opened, by way in: direct (ticker.live.direct), app
    replays: int


def read_figures(hub: Hub, relay: Relay, store: Store, opened: Mapping[str, int]) -> NodeFigures:
    """The node's figures now: a walk over its readers and topics (no work per event; called every second or so)."""
    readers = Counter("sse" if isinstance(r.sink, SSESink) else "websocket" for r in hub.readers)
    return NodeFigures(
        readers={"websocket": readers["websocket"], "sse": readers["sse"]},
        subscriptions=sum(t.subscriptions for t in hub.topics.values()),
        incidents=len(hub.topics),
        delivered=hub.delivered,
        listening=hub.listening,
        relay_healthy=relay.healthy,
        published=relay.published,
        catchups=dict(hub.catchups),
        opened=dict(opened),
        replays=store.replays,
    )


async def relay_lag(store: Store) -> float:
    """Seconds since the oldest committed event that is not in the broker yet was committed; 0: none waits."""
    oldest = await store.oldest_unpublished_at()
    return 0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())


class Nodes:
    """Every node's last figures, this one's included."""

    def __init__(self, settings: Settings, read: Callable[[], NodeFigures], store: Store) -> None:
        self.read = read
        self.store = store
        self.interval = settings.node_stats_seconds
        self.redis_url = settings.redis_url
        self.redis_timeout = settings.redis_timeout_seconds
        self.id = uuid.uuid4().hex
        self.about = {
            "id": self.id,
            "name": node_name(settings.node_name),  # as in its log lines: TICKER_NODE_NAME, or host and process
            "address": f"{settings.host}:{settings.port}",
            "pid": os.getpid(),
            "started_at": isoformat(datetime.now(UTC)),
        }
        self.mine: dict[str, Any] = {}
        self.others: dict[str, dict[str, Any]] = {}
        self._before: tuple[float, int] | None = None  # (monotonic time, delivered) at the last round
        self._task = Background("node-stats", self._run)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def all(self) -> list[dict[str, Any]]:
        """Every node's figures, this node's first, the others by name."""
        others = sorted(self.others.values(), key=lambda n: (n["name"], n["address"], n["id"]))
        mine = [{**self.mine, "this": True}] if self.mine else []  # none before this node's first round
        return [*mine, *({**n, "this": False} for n in others)]

    async def report(self) -> dict[str, Any]:
        """This node's figures now, with its deliveries per second since the last report."""
        figures = self.read()
        now = time.monotonic()
        rate = 0.0
        if self._before is not None and now > self._before[0]:
            rate = max(0, figures.delivered - self._before[1]) / (now - self._before[0])
        self._before = (now, figures.delivered)
        try:
            lag: float | None = round(await relay_lag(self.store), 3)
        except Exception as exc:  # the database is away: the page says so rather than a stale figure
            log_event("node_stats_failed", logging.WARNING, cause="store", error=repr(exc))
            lag = None
        return {
            **self.about,
            "at": isoformat(datetime.now(UTC)),
            "readers": sum(figures.readers.values()),
            "readers_by_way": dict(figures.readers),
            "incidents": figures.incidents,
            "subscriptions": figures.subscriptions,
            "delivered": figures.delivered,
            "deliveries_per_second": round(rate, 2),
            "relay_lag_seconds": lag,
            "relay_healthy": figures.relay_healthy,
            "broker_listening": figures.listening,
        }

    async def _run(self) -> None:
        redis = None
        if self.redis_url is not None:
            redis = client(self.redis_url, self.redis_timeout)
        try:
            while True:
                self.mine = await self.report()
                if redis is not None:
                    try:
                        await self._share(redis)
                    except REDIS_DOWN as exc:
                        log_event("node_stats_failed", logging.WARNING, cause="redis", error=repr(exc))
                await asyncio.sleep(self.interval)
        finally:
            if redis is not None:
                with contextlib.suppress(*REDIS_DOWN):
                    await redis.delete(nodes_key(self.id))
                await redis.aclose()

    async def _share(self, redis: aioredis.Redis) -> None:
        ttl_ms = max(1000, int(self.interval * ROUNDS_TO_LIVE * 1000))
        own = nodes_key(self.id)
        await redis.set(own, json.dumps(self.mine), px=ttl_ms)
        keys = [k async for k in redis.scan_iter(match=nodes_key("*"), count=1000) if k.decode() != own]
        found: dict[str, dict[str, Any]] = {}
        if keys:
            for raw in await redis.mget(keys):
                if raw is not None:
                    node = json.loads(raw)
                    found[node["id"]] = node
        self.others = found
