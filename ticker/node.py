"""The node: every component of one Ticker process, built from the settings in one place, started in order and
stopped in reverse; handlers reach them through ``ticker.http.node.node(request)``.

Start order is dependency order: the store and the broker first, then the hub that reads them, the relay that
feeds the broker, the parts that share state between nodes (presence, notices), the desk's live parts (the
sources panel, tips, the poller), what works on its own (link cards, Web Push, partner counts), and last the
figures (metrics, node stats) and the janitor. Stopping runs the same list backwards, so nothing stops while a
part started after it still uses it; a part that fails to start stops those already started, in reverse.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from ticker.background import woken
from ticker.broker import Broker, broker_for
from ticker.config import Settings
from ticker.http.origins import OriginPolicy
from ticker.live.gate import Lane
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.media.cards import LinkCards
from ticker.media.photos import Photos
from ticker.media.providers import Directory
from ticker.media.storage import storage_for
from ticker.metrics import Metrics
from ticker.net.fetch import Fetcher
from ticker.node_stats import NodeFigures, Nodes, read_figures
from ticker.notices import Notices
from ticker.partner_readers import PartnerReaders
from ticker.presence import presence_for
from ticker.push.sender import Sender as PushSender
from ticker.relay import Relay
from ticker.sources.panel import Panel
from ticker.sources.poller import Poller, fetch_limits
from ticker.store.janitor import idempotency_janitor
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.takedown import listen as forget_deleted_incidents
from ticker.tips.queue import TipQueue


class Part(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Node:
    """Every component, built (nothing runs yet); ``running()`` starts and stops them.

    A ``broker`` or ``store`` passed in (tests, the CLI) belongs to the caller, who closes it.
    """

    def __init__(
        self, settings: Settings, metrics: Metrics, *, broker: Broker | None = None, store: Store | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.owns_store, self.owns_broker = store is None, broker is None
        self.store = store or Store(settings.database_url)
        self.broker = broker or broker_for(
            settings.redis_url, history=settings.broker_history, timeout=settings.redis_timeout_seconds
        )
        # Photos: the pipeline's workers and the files' storage (ticker.media; docs/design.md, "Photos").
        self.photos = Photos(settings, self.store, storage_for(settings.media_dir, self.store))
        self.hub = Hub(settings, self.broker, self.store)
        self.hub.on_fanout = metrics.fanout.observe
        self.relay = Relay(
            self.store, self.broker, sweep_seconds=settings.relay_sweep_seconds, batch=settings.relay_batch
        )
        self.relay.on_published = metrics.commit_to_broker.observe
        self.presence = presence_for(settings, self.hub)
        self.origins = OriginPolicy(settings, self.store)
        self.notices = Notices(
            settings.redis_url,
            self.hub,
            self.origins.invalidate,
            block_seconds=settings.broker_block_seconds,
            timeout=settings.redis_timeout_seconds,
        )
        forget_deleted_incidents(self.notices, self.hub)  # a takedown on another node (ticker.takedown)
        self.sources_panel = Panel(settings, self.store, self.hub, self.notices)
        self.tips = TipQueue(settings, self.store, self.sources_panel, self.notices)  # on the panel's stream
        self.sources_poller = Poller(settings, self.store, self.sources_panel)
        self.link_cards = LinkCards(  # over a guarded fetcher of its own (ticker.media.cards)
            Directory.of_settings(settings),
            Fetcher(fetch_limits(settings)),
            timeout=settings.card_timeout_seconds,
            most=settings.cards_per_entry,
            thumbnails=self.photos,
        )
        self.push_sender = PushSender(  # Web Push alerts (ticker.push)
            settings,
            self.store,
            on_outcome=lambda outcome: metrics.push_sends.labels(outcome).inc(),
            on_alert=lambda state: metrics.push_alerts.labels(state).inc(),
        )
        self.partner_readers = PartnerReaders(
            self.store, self.hub, settings.partner_counts_flush_seconds, lambda: self.presence.counts("partners")
        )
        self.lane = Lane(settings, self.hub, self.origins, self.partner_readers)
        self.nodes = Nodes(settings, self.figures, self.store)
        self.janitor = idempotency_janitor(self.store, settings.idempotency_ttl_seconds)

    def figures(self) -> NodeFigures:
        return read_figures(self.hub, self.relay, self.store, self.lane.opened)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Node]:
        """Start every component in order; on leaving (or a failed start), stop the started ones in reverse."""
        async with AsyncExitStack() as stack:

            def on_stop(name: str, stop: Callable[[], Awaitable[None] | None]) -> None:
                stack.push_async_callback(stopped, name, stop)

            def start(name: str, part: Part) -> None:
                part.start()
                on_stop(name, part.stop)

            stack.callback(log_event, "node_stopped")
            if self.settings.auto_migrate:
                await upgrade(self.settings.database_url)
            if self.owns_store:
                on_stop("store", self.store.close)
            if self.owns_broker:
                on_stop("broker", self.broker.close)
            on_stop("photos", self.photos.close)
            start("hub", self.hub)
            start("relay", self.relay)
            start("presence", self.presence)
            start("notices", self.notices)
            on_stop("sources_panel", self.sources_panel.stop)  # the panel's own tasks (other nodes' news)
            start("tips", self.tips)
            start("sources_poller", self.sources_poller)
            on_stop("link_cards", self.link_cards.aclose)
            start("push_sender", self.push_sender)
            start("partner_readers", self.partner_readers)
            self.metrics.attach(self.figures, self.settings.metrics_sync_seconds)
            on_stop("metrics", self.metrics.detach)
            start("nodes", self.nodes)
            start("janitor", self.janitor)
            log_event(
                "node_started", broker=self.broker.describe(), database=self.store.write_engine.url.get_backend_name()
            )
            yield self


SLOW_STOP_SECONDS = 10.0  # a part still stopping after this: every task's awaits are logged (part_stop_slow)


async def stopped(name: str, stop: Callable[[], Awaitable[None] | None]) -> None:
    """Stop one part, and log how long it took. A node whose stop hangs waits for the part after the last one
    logged, in reverse start order; once it has taken ``SLOW_STOP_SECONDS``, a WARNING line names the part and
    shows what every task awaits, so that the await that never ends is named before the supervisor kills the
    worker."""
    began = time.monotonic()
    try:
        result = stop()
        if inspect.isawaitable(result):
            stopping = asyncio.ensure_future(result)
            ended = asyncio.Event()
            stopping.add_done_callback(lambda _task: ended.set())
            try:
                if not await woken(ended, SLOW_STOP_SECONDS):
                    log_event("part_stop_slow", logging.WARNING, part=name, tasks=awaits())
            except BaseException:
                stopping.cancel()
                raise
            await stopping
    finally:
        log_event("part_stopped", part=name, seconds=round(time.monotonic() - began, 3))


def awaits() -> list[str]:
    """Each running task's chain of awaits, outermost first: ``name: function:line < function:line …``."""
    chains = []
    for task in asyncio.all_tasks():
        links = []
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                links.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
        chains.append(f"{task.get_name()}: {' < '.join(links)}")
    return sorted(chains)
