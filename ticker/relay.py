"""The outbox relay: committed events reach the broker in seq order, retried until the broker has them.

Every node runs one. The store's unpublished rows are the queue; a sweep every few seconds picks up what other
nodes (or a crashed one) left behind. Publishing is idempotent (see broker.redis), so two relays racing, or a
relay killed between publish and mark, add no twin. Per incident, seq n is only published after n-1: commits of
one incident are serialised by the row lock that takes the seq, so when n is visible, every lower seq is too.

A write hands its committed messages over (``notify``): the relay publishes them as they are, without reading
them back, when each one's seq follows the last this relay published of its incident. Anything else (the first
event of an incident since the relay started, a seq another node published before it, one handed over out of
order, a failed publish) is left to the outbox read, which is run at once. Published events are marked in the
store in one statement per round, at most every ``mark_seconds``; the sweep marks what is left first, so it never
reads back what was just published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ticker.background import Background, woken
from ticker.backoff import backoff_delay
from ticker.broker import Broker
from ticker.errors import BrokerUnavailable
from ticker.events import Message
from ticker.logs import log_event
from ticker.store.sql import Store
from ticker.store.takedown import deleted_among


class Relay:
    def __init__(
        self,
        store: Store,
        broker: Broker,
        *,
        sweep_seconds: float = 1.0,
        batch: int = 500,
        mark_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.broker = broker
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self.mark_seconds = mark_seconds
        self.published = 0
        self.healthy = True
        # Called with each published event's seconds from commit to the broker's acknowledgement (/metrics).
        self.on_published: Callable[[float], object] = lambda _seconds: None
        self._wake = asyncio.Event()
        self._task = Background("relay", self._run)
        self._handed: list[tuple[Message, float]] = []  # committed messages handed over, with when
        self._read_outbox = True  # publish what is pending from before we started
        self._last: dict[str, int] = {}  # per incident, the last seq this relay published (and all before it)
        self._unmarked: dict[str, tuple[int, int]] = {}  # per incident, the seqs published but not yet marked
        self._marked_at = self._swept_at = time.monotonic()

    def notify(self, committed: Sequence[Message] = ()) -> None:
        """A write committed: publish ``committed`` (or whatever the outbox holds, when nothing is handed)."""
        if committed:
            at = time.monotonic()
            self._handed.extend((message, at) for message in committed)
        else:
            self._read_outbox = True
        self._wake.set()

    def start(self) -> None:
        self._wake.set()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def publish_pending(self) -> int:
        """Publish one batch of pending events; returns how many were published."""
        pending = await self.store.outbox(self.batch)
        if not pending:
            return 0
        await self.broker.publish([p.message for p in pending])
        acknowledged = datetime.now(UTC)
        for p in pending:
            self.on_published(max(0.0, (acknowledged - p.at).total_seconds()))
        marked = await self.store.mark_published([p.row for p in pending])
        if marked < len(pending):
            await self._forget_deleted({p.message.topic for p in pending})
        for p in pending:
            self._last[p.message.topic] = max(self._last.get(p.message.topic, 0), p.message.seq)
        self.published += len(pending)
        return len(pending)

    async def publish_handed(self) -> None:
        """Publish the messages handed over whose seq follows the last published of their incident; for the rest,
        have the outbox read."""
        handed, self._handed = self._handed, []
        ready: list[tuple[Message, float]] = []
        for message, at in sorted(handed, key=lambda h: (h[0].topic, h[0].seq)):
            last = self._last.get(message.topic)
            if last is not None and message.seq <= last:
                continue  # the outbox read published it already
            if last is None or message.seq != last + 1:
                self._read_outbox = True  # a gap this relay cannot close from what it was handed
                continue
            ready.append((message, at))
            self._last[message.topic] = message.seq
        if not ready:
            return
        try:
            await self.broker.publish([message for message, _at in ready])
        except BaseException:
            for message, _at in ready:  # not published: the outbox read starts this incident over
                self._last.pop(message.topic, None)
            self._read_outbox = True
            raise
        acknowledged = time.monotonic()
        for message, at in ready:
            self.on_published(acknowledged - at)
            low, high = self._unmarked.get(message.topic, (message.seq, message.seq))
            self._unmarked[message.topic] = (min(low, message.seq), max(high, message.seq))
        self.published += len(ready)

    async def mark_handed(self) -> None:
        """Mark what ``publish_handed`` published, one statement for every incident."""
        unmarked, self._unmarked = self._unmarked, {}
        self._marked_at = time.monotonic()
        if not unmarked:
            return
        try:
            marked = await self.store.mark_published_seqs(unmarked)
        except BaseException:
            for topic, (low, high) in unmarked.items():  # the sweep's read would publish them again: keep them
                was = self._unmarked.get(topic, (low, high))
                self._unmarked[topic] = (min(low, was[0]), max(high, was[1]))
            raise
        if marked < sum(high - low + 1 for low, high in unmarked.values()):
            await self._forget_deleted(set(unmarked))

    async def _forget_deleted(self, topics: set[str]) -> None:
        """Some of the events just published were deleted meanwhile, with their incident (a takedown): the
        publish put them back into a stream the takedown had removed, so remove it again."""
        for topic in await deleted_among(self.store, topics):
            await self.broker.forget(topic)
            log_event("relay_forgot_deleted", incident=topic)

    async def _run(self) -> None:
        failures = 0
        while True:
            deadline = self._swept_at + self.sweep_seconds
            if self._unmarked:
                deadline = min(deadline, self._marked_at + self.mark_seconds)
            await woken(self._wake, max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            if time.monotonic() >= self._swept_at + self.sweep_seconds:
                self._read_outbox = True  # the sweep
            try:
                await self.publish_handed()
                if self._read_outbox or time.monotonic() >= self._marked_at + self.mark_seconds:
                    await self.mark_handed()  # first: the outbox read must not find them unpublished
                if self._read_outbox:
                    self._read_outbox, self._swept_at = False, time.monotonic()
                    while await self.publish_pending() == self.batch:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the events, try again
                failures += 1
                self.healthy, self._read_outbox = False, True
                delay = backoff_delay(failures)
                level = "broker" if isinstance(exc, BrokerUnavailable) else "store"
                log_event("relay_failed", logging.WARNING, cause=level, error=repr(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            if not self.healthy:
                log_event("relay_recovered", failures=failures)
            self.healthy, failures = True, 0
