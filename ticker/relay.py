"""The outbox relay: committed events reach the broker in seq order, retried until the broker has them.

Every node runs one. The store's unpublished rows are the queue; a write wakes the relay at once, and a
sweep every few seconds picks up what other nodes (or a crashed one) left behind. Publishing is idempotent
(see broker.redis), so two relays racing, or a relay killed between publish and mark, add no twin.
Per incident, seq n is only published after n-1: commits of one incident are serialised by the row lock
that takes the seq, so when n is visible, every lower seq is too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ticker.background import Background, woken
from ticker.backoff import backoff_delay
from ticker.broker import Broker
from ticker.errors import BrokerUnavailable
from ticker.logs import log_event
from ticker.store.sql import Store
from ticker.store.takedown import deleted_among


class Relay:
    def __init__(self, store: Store, broker: Broker, *, sweep_seconds: float = 1.0, batch: int = 500) -> None:
        self.store = store
        self.broker = broker
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self.published = 0
        self.healthy = True
        # Called with each published event's seconds from commit to the broker's acknowledgement (/metrics).
        self.on_published: Callable[[float], object] = lambda _seconds: None
        self._wake = asyncio.Event()
        self._task = Background("relay", self._run)

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._wake.set()  # publish whatever is pending from before we started
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
        self.published += len(pending)
        return len(pending)

    async def _forget_deleted(self, topics: set[str]) -> None:
        """Some of the events just published were deleted meanwhile, with their incident (a takedown): the
        publish put them back into a stream the takedown had removed, so remove it again."""
        for topic in await deleted_among(self.store, topics):
            await self.broker.forget(topic)
            log_event("relay_forgot_deleted", incident=topic)

    async def _run(self) -> None:
        failures = 0
        while True:
            await woken(self._wake, self.sweep_seconds)
            self._wake.clear()
            try:
                while await self.publish_pending() == self.batch:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the events, try again
                failures += 1
                self.healthy = False
                delay = backoff_delay(failures)
                level = "broker" if isinstance(exc, BrokerUnavailable) else "store"
                log_event("relay_failed", logging.WARNING, cause=level, error=repr(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            if not self.healthy:
                log_event("relay_recovered", failures=failures)
            self.healthy, failures = True, 0
