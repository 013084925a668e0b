"""The poller: on the one node holding the lease, each enabled source is asked when it is due.

Polite to the sources: each is asked at its own interval, never more often than TICKER_SOURCES_MIN_INTERVAL_
SECONDS; with the last answer's ETag and Last-Modified, so an unchanged list costs a 304 and stores nothing;
through the guarded fetcher's time and size bounds; and after a failure only after a wait that doubles with each
failure in a row (or what Retry-After asks), up to TICKER_SOURCES_BACKOFF_MAX_SECONDS.

A source that is down, slow or answers garbage fails alone: each poll runs in a task of its own, and a failure is
one WARNING line in the log (``source_failed``, with its cause) and a plain Swedish status line on the desk;
nothing already stored is touched. When is a source due is kept in SQL, so the node that takes the lease over
goes on where the last one was.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from datetime import timedelta

from ticker.background import Background, woken
from ticker.config import Settings
from ticker.logs import log_event, raised_at
from ticker.net.fetch import Fetcher, FetchError, FetchLimits
from ticker.sources.found import Unreadable
from ticker.sources.kinds import KINDS
from ticker.sources.lease import Lease
from ticker.sources.model import Source
from ticker.sources.panel import Panel
from ticker.sources.status import describe
from ticker.sources.store import (
    SourceLimits,
    all_sources,
    effective_interval,
    expire_items,
    filters_of,
    record_answer,
    record_failure,
    store_found,
)
from ticker.store.sql import Store, now

LEASE = "sources"
EXPIRE_EVERY = timedelta(minutes=10)


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        timeout=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        allow_loopback=settings.fetch_allow_loopback,
        user_agent=f"Ticker (+{settings.resolved_public_url()})",
    )


class Poller:
    def __init__(self, settings: Settings, store: Store, panel: Panel, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.store = store
        self.panel = panel
        self.limits = SourceLimits.of(settings)
        self.node = uuid.uuid4().hex
        self.lease = Lease(store, LEASE, self.node, settings.sources_lease_seconds)
        self.fetcher = fetcher
        self.leading = False
        self.polls: dict[int, asyncio.Task[None]] = {}  # source id -> its poll in progress
        self.wake = asyncio.Event()  # a source was added or changed here, or a poll ended
        self._task = Background("sources-poller", self._run)
        self._expired_at = now() - EXPIRE_EVERY

    def start(self) -> None:
        if self.fetcher is None:
            self.fetcher = Fetcher(fetch_limits(self.settings))
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self._end_polls()
        if self.leading:
            self.leading = False
            try:
                await self.lease.release()  # another node takes over at once, not when the lease runs out
            except Exception as exc:
                log_event("sources_lease_failed", logging.WARNING, error=repr(exc)[:300])
        if self.fetcher is not None:
            await self.fetcher.aclose()

    async def _run(self) -> None:
        renew = self.settings.sources_lease_seconds / 3  # renewed twice before it could run out
        while True:
            wait = renew
            try:
                held = await self.lease.hold()
            except Exception as exc:  # the database away: whoever holds the lease now, it is not us for sure
                log_event("sources_lease_failed", logging.WARNING, error=repr(exc)[:300])
                held = False
            if held != self.leading:
                self.leading = held
                log_event("sources_polling" if held else "sources_not_polling", node=self.node)
                if not held:
                    await self._end_polls()
            if held:
                try:
                    wait = min(wait, await self._start_due())
                    await self._expire()
                except Exception as exc:
                    log_event("sources_round_failed", logging.WARNING, error=repr(exc)[:300], at=raised_at(exc))
            await woken(self.wake, max(0.05, wait))
            self.wake.clear()

    async def _start_due(self) -> float:
        """Start the polls that are due; returns the seconds until the next one is."""
        at = now()
        soonest = self.settings.sources_lease_seconds / 3
        for source in await all_sources(self.store):
            if not source.enabled or source.id in self.polls:
                continue
            due = (source.next_poll_at - at).total_seconds()
            if due > 0:
                soonest = min(soonest, due)
                continue
            task = asyncio.get_running_loop().create_task(self._poll(source), name=f"source-{source.id}")
            self.polls[source.id] = task
            task.add_done_callback(functools.partial(self._ended, source.id))
        return soonest

    def _ended(self, source_id: int, _task: asyncio.Task[None]) -> None:
        self.polls.pop(source_id, None)
        self.wake.set()

    async def _end_polls(self) -> None:
        polls = list(self.polls.values())
        for task in polls:
            task.cancel()
        for task in polls:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _expire(self) -> None:
        at = now()
        if at - self._expired_at >= EXPIRE_EVERY:
            self._expired_at = at
            removed = await expire_items(self.store, at - timedelta(hours=self.settings.sources_keep_hours))
            if removed:
                log_event("source_items_expired", removed=removed)

    async def poll(self, source: Source) -> None:
        """Ask one source now (the CLI's ``ticker source poll``; the poller's own polls come through here)."""
        await self._poll(source)

    async def _poll(self, source: Source) -> None:
        assert self.fetcher is not None
        kind = KINDS.get(source.kind)
        interval = timedelta(seconds=effective_interval(source, self.limits))
        try:
            if kind is None:
                raise Unreadable(f"unknown kind {source.kind!r}")
            fetched = await self.fetcher.get(
                source.url, etag=source.etag, last_modified=source.last_modified, accept=kind.accept
            )
            ids: list[int] = []
            if fetched.status != 304:
                filters = filters_of(source)
                found = [item for item in kind.parse(fetched.body, fetched.url) if filters.keeps(item)]
                keep = timedelta(hours=self.settings.sources_keep_hours)
                ids = await store_found(self.store, source, found, now(), keep)
            at = now()
            recovered = await record_answer(
                self.store,
                source,
                at,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                next_poll_at=at + interval,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(source, exc, interval)
            return
        if ids:
            log_event("source_items", source=source.name, stored=len(ids))
        try:
            await self.panel.changed(ids)
            if recovered or ids:
                await self.panel.status_changed([source.id])
        except Exception as exc:  # stored all the same: an open panel shows it when it reconnects
            log_event("panel_update_failed", logging.WARNING, source=source.name, error=repr(exc)[:300])

    async def _failed(self, source: Source, error: Exception, interval: timedelta) -> None:
        """One WARNING line, the status line, and the next try after a longer wait."""
        limit = self.settings.sources_backoff_max_seconds
        asked = error.retry_after if isinstance(error, FetchError) and error.retry_after is not None else 0.0

        def wait(failures: int) -> float:  # the interval, doubled for each failure in a row after the first
            return float(max(min(limit, interval.total_seconds() * 2 ** min(failures - 1, 20)), min(limit, asked)))

        if isinstance(error, FetchError):
            cause = {"error": error.code, "message": error.message}
        elif isinstance(error, Unreadable):
            cause = {"error": "unreadable", "message": str(error)}
        else:  # a fault of ours, or the database away: where it was raised, without a traceback
            cause = {"error": "internal", "message": repr(error), "at": raised_at(error)}
        message = describe(error, timeout=self.settings.fetch_timeout_seconds, max_bytes=self.settings.fetch_max_bytes)
        try:
            seconds = await record_failure(self.store, source.id, now(), message, wait)
        except Exception as exc:  # the store away too: the poll is tried again when the node next looks
            cause["status"] = f"not recorded: {exc!r}"[:300]
            seconds = wait(source.failures + 1)
        log_event("source_failed", logging.WARNING, source=source.name, **cause, retry_in=round(seconds))
        try:
            await self.panel.status_changed([source.id])
        except Exception as exc:
            log_event("panel_update_failed", logging.WARNING, source=source.name, error=repr(exc)[:300])
