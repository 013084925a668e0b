"""Catch-up: what a reader resuming after ``since`` is sent before live events, with no gap and no twin.

From the cheapest source that has all of it: this node's recent events, the broker's history, the store. A
reader on another epoch, further behind than ``max_replay`` or ahead of anything committed gets a snapshot
instead, one shared by every reader that needs it at once and reused until the incident moves on, so a storm of
far-behind readers asks the database once. The only module that reads the store for a reader.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ticker.broker import Broker
from ticker.config import Settings
from ticker.errors import BrokerUnavailable
from ticker.live.frames import Framed, framed, framed_message
from ticker.live.protocol import contiguous
from ticker.live.topic import Topic
from ticker.store.sql import Store

History = list[tuple[int, Framed]]  # (seq, message) in seq order


class CatchUp:
    def __init__(self, settings: Settings, broker: Broker, store: Store) -> None:
        self.max_replay = settings.max_replay
        self.broker = broker
        self.store = store
        self.counts: Counter[str] = Counter()  # where readers' history came from, and the snapshots' queries

    def at_once(self, topic: Topic, since: int | None, epoch: str | None) -> History | None:
        """The reader's history from this node's recent events, without waiting; None: ``history`` must fetch it
        (or a snapshot, or the store must say how far a reader ahead of this node may be)."""
        if since is None:
            return []
        if epoch not in (None, topic.epoch) or not 0 <= topic.seq - since <= self.max_replay:
            return None
        if since == topic.seq:
            return []
        held = contiguous(topic.recent, since, topic.seq)
        if held is not None:
            self.counts["node"] += 1
        return held

    async def history(self, topic: Topic, since: int | None, epoch: str | None, target: int) -> tuple[History, int]:
        """The reader's history up to ``target`` (the topic's position when it joined), and the seq it ends at:
        ``target``, a snapshot's, or ``since`` for a reader that has everything up to the target already."""
        if since is None:
            return [], target
        if await self._needs_snapshot(topic, since, epoch):
            seq, snapshot = await self._snapshot(topic)
            self.counts["snapshot"] += 1
            return [(seq, snapshot)], seq
        if since < target:
            return await self._missed(topic, since, target), target
        return [], since

    async def _needs_snapshot(self, topic: Topic, since: int, epoch: str | None) -> bool:
        """Another epoch, too far behind, or ahead of what the store has ever committed."""
        if epoch not in (None, topic.epoch) or topic.seq - since > self.max_replay:
            return True
        return since > topic.seq and since > (await self.store.position(topic.slug))[0]

    async def _missed(self, topic: Topic, since: int, target: int) -> History:
        """The events after ``since`` up to ``target``, cheapest source first."""
        recent = contiguous(topic.recent, since, target)
        if recent is not None:
            self.counts["node"] += 1
            return recent
        try:
            held = await self.broker.history(topic.slug, since, target - since)
        except BrokerUnavailable:
            held = []
        found = contiguous(((m.seq, m.payload) for m in held), since, target)
        self.counts["broker" if found is not None else "store"] += 1
        if found is None:
            stored = await self.store.events_after(topic.slug, since, target)
            found = contiguous(((m.seq, m.payload) for m in stored), since, target)
        if found is None:
            raise RuntimeError(f"events {since + 1}..{target} of {topic.slug} are missing from the store")
        return [(seq, framed(payload, seq)) for seq, payload in found]

    async def _snapshot(self, topic: Topic) -> tuple[int, Framed]:
        """The incident's state as one message. Readers asking at once share one query, and a snapshot is reused
        until the incident moves on."""
        cached = topic.snapshot
        if cached is None or (cached.done() and not cached.cancelled() and cached.result()[0] < topic.seq):
            cached = topic.snapshot = asyncio.ensure_future(self._load_snapshot(topic.slug))
        try:
            return await asyncio.shield(cached)
        except Exception:
            if topic.snapshot is cached:
                topic.snapshot = None
            raise

    async def _load_snapshot(self, slug: str) -> tuple[int, Framed]:
        snapshot = await self.store.snapshot(slug)
        self.counts["snapshot_queries"] += 1
        seq: int = snapshot["seq"]
        return seq, framed_message({"type": "snapshot", "incident": slug, **_state(snapshot)}, seq)


def _state(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": snapshot["seq"],
        "data": {"incident": snapshot["incident"], "entries": snapshot["entries"]},
    }
