"""Prometheus metrics of a node (docs/deploy.md, "Metrics"), served at /metrics by ticker.http.metrics.

Most figures are the node's own state, read when asked rather than counted again where they happen: the hub
already counts deliveries per event (its live readers' number, never per reader), catch-ups by source and its readers;
the relay counts what it published; the store counts idempotent replays. ``sync()`` copies them into the metrics
(counters advance by what the node counted since the last copy) and runs at every scrape. What only exists as it
happens is observed there, once per event or request: the fan-out's time per event, the time from an event's
commit to the broker's acknowledgement, HTTP requests by route and status with their durations, and failed
logins. The relay's lag (the age of the oldest committed event not yet in the broker) is one query at scrape
time: it is the cluster's, not a process's.

Under ``ticker serve --workers N`` each worker is its own process with its own hub, and a scrape reaches one of
them. Then prometheus-client's multiprocess mode is used (``PROMETHEUS_MULTIPROC_DIR``, set up by
ticker.server): every worker writes its metrics to files there, and whichever worker is scraped adds them all up
(readers, subscriptions and memory are summed over the live workers, "listening" is the lowest of them). Each
worker copies its state into those files every ``metrics_sync_seconds`` and at a scrape, so the other workers'
figures are at most that old. A worker that exits removes its gauges; one that died is noticed at the next
scrape and removed too. Counters of a dead worker stay in the sum, as a counter should.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from ticker.background import Background
from ticker.node_stats import NodeFigures

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
Mode = Literal["livesum", "livemin", "livemax"]  # how a gauge adds up over the workers
LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Fan-out of one event to a node's readers: ~8 µs a reader (docs/benchmarks.md), so 10 µs to a second.
FANOUT_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# No *_created series: Prometheus knows a process's start from process_start_time_seconds.
disable_created_metrics()  # type: ignore[no-untyped-call]


def multiprocess_dir() -> str | None:
    """Where the workers' metric files are, when this process is one of several (ticker.server sets it)."""
    return os.environ.get(MULTIPROC_ENV) or None


class _Scraped:
    """Figures known only when asked (the relay's lag: one query), put in place just before a scrape."""

    def __init__(self) -> None:
        self.relay_lag: float | None = None

    def collect(self) -> Iterator[Metric]:
        if self.relay_lag is not None:
            yield GaugeMetricFamily(
                "ticker_relay_lag_seconds",
                "Age of the oldest committed event not yet published to the broker (0: none waiting)",
                value=self.relay_lag,
            )


class Metrics:
    """One node's (one process's) metrics. Made with the app; ``attach`` gives it the node's parts to read."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir()
        self.registry = CollectorRegistry()
        live = None if self.multiprocess else self.registry  # in multiprocess mode the files are the registry
        self.scraped = _Scraped()
        self.registry.register(self.scraped)

        def gauge(name: str, doc: str, labels: Iterable[str] = (), mode: Mode = "livesum") -> Gauge:
            return Gauge(name, doc, labels, registry=live, multiprocess_mode=mode)

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(name, doc, labels, registry=live)

        # Read from the node's state (sync).
        self.readers = gauge("ticker_readers", "Live readers connected to this node, by transport", ["way"])
        self.subscriptions = gauge("ticker_subscriptions", "Incidents followed, summed over this node's readers")
        self.incidents = gauge("ticker_incidents_followed", "Incidents with at least one reader on this node")
        self.listening = gauge("ticker_broker_listening", "1 while the broker listener reads, else 0", mode="livemin")
        self.relay_healthy = gauge("ticker_relay_healthy", "1 while the relay publishes, else 0", mode="livemin")
        self.deliveries = counter("ticker_deliveries", "Event frames written to readers")
        self.published = counter("ticker_relay_published", "Events this node's relay published to the broker")
        self.catchups = counter("ticker_catchups", "Resuming readers' missed events, by their source", ["source"])
        self.snapshots = counter("ticker_snapshots", "Readers sent a snapshot instead of missed events")
        self.snapshot_queries = counter("ticker_snapshot_queries", "Snapshot queries to the database (shared)")
        self.opened = counter("ticker_websockets_opened", "Websockets opened, by way in (direct or app)", ["way"])
        self.replays = counter("ticker_idempotent_replays", "Writes answered from their Idempotency-Key's result")
        # Observed where they happen.
        self.fanout = Histogram(
            "ticker_fanout_seconds",
            "Time to write one event to every live reader",
            buckets=FANOUT_BUCKETS,
            registry=live,
        )
        self.commit_to_broker = Histogram(
            "ticker_commit_to_broker_seconds",
            "Time from an event's commit to the broker's acknowledgement of it",
            buckets=LATENCY_BUCKETS,
            registry=live,
        )
        self.requests = counter(
            "ticker_http_requests", "HTTP requests answered, by route, method and status", ["route", "method", "status"]
        )
        self.durations = Histogram(
            "ticker_http_request_duration_seconds",
            "Time to answer an HTTP request (an event stream: to its first byte)",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=live,
        )
        self.failed_logins = counter("ticker_failed_logins", "Refused newsroom logins, by reason", ["reason"])
        # Web Push (ticker.push): readers who followed an incident, alerts by what became of them, and requests
        # to push services by their outcome (sent, gone, retry, failed, expired, cancelled).
        self.push_subscribed = counter("ticker_push_subscriptions", "Incidents followed with Web Push on this node")
        self.push_alerts = counter("ticker_push_alerts", "Alerts this node turned into deliveries, by state", ["state"])
        self.push_sends = counter("ticker_push_sends", "Web Push deliveries this node handled, by outcome", ["outcome"])
        # A process's CPU and memory: the standard collector where one process is scraped; under several
        # workers each copies its own into the files (summed over the workers).
        self._process = ProcessCollector(registry=self.registry if not self.multiprocess else None)
        self.cpu = counter("process_cpu_seconds", "CPU time of the node's processes") if self.multiprocess else None
        self.memory = gauge("process_resident_memory_bytes", "Resident memory") if self.multiprocess else None
        self.fds = gauge("process_open_fds", "Open file descriptors") if self.multiprocess else None

        self._read: Callable[[], NodeFigures] | None = None
        self._seen: dict[str, float] = {}
        self._task: Background | None = None

    # The node's parts.

    def attach(self, read: Callable[[], NodeFigures], sync_seconds: float) -> None:
        """Read the node's figures with ``read`` from now on (and, under several workers, every few seconds)."""
        self._read = read
        if self.multiprocess:
            self._task = Background("metrics", functools.partial(self._keep_synced, sync_seconds))
            self._task.start()

    async def detach(self) -> None:
        self._read = None
        if self._task is not None:
            await self._task.stop()
        if self.multiprocess:
            # This worker's gauges leave the sums.
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess)  # type: ignore[no-untyped-call]

    async def _keep_synced(self, seconds: float) -> None:
        while True:
            self.sync()
            await asyncio.sleep(seconds)

    def sync(self) -> None:
        """Copy the node's figures into the metrics."""
        if self._read is None:
            return
        f = self._read()
        for way in ("websocket", "sse"):
            self.readers.labels(way).set(f.readers.get(way, 0))
        self.subscriptions.set(f.subscriptions)
        self.incidents.set(f.incidents)
        self.listening.set(1 if f.listening else 0)
        self.relay_healthy.set(1 if f.relay_healthy else 0)
        self._advance("deliveries", self.deliveries, f.delivered)
        self._advance("published", self.published, f.published)
        for source in ("node", "broker", "store", "snapshot"):
            self._advance(f"catchups:{source}", self.catchups.labels(source), f.catchups.get(source, 0))
        self._advance("snapshots", self.snapshots, f.catchups.get("snapshot", 0))
        self._advance("snapshot_queries", self.snapshot_queries, f.catchups.get("snapshot_queries", 0))
        for way in ("direct", "app"):
            self._advance(f"opened:{way}", self.opened.labels(way), f.opened.get(way, 0))
        self._advance("replays", self.replays, f.replays)
        if self.multiprocess:
            self._sync_process()

    def _advance(self, key: str, counter: Any, value: float) -> None:
        """Move a counter up to ``value``, a count the node keeps itself."""
        delta = value - self._seen.get(key, 0)
        if delta > 0:
            counter.inc(delta)
            self._seen[key] = value

    def _sync_process(self) -> None:
        samples = {s.name: s.value for family in self._process.collect() for s in family.samples}
        assert self.cpu is not None and self.memory is not None and self.fds is not None
        self._advance("cpu", self.cpu, samples.get("process_cpu_seconds_total", 0.0))
        self.memory.set(samples.get("process_resident_memory_bytes", 0.0))
        self.fds.set(samples.get("process_open_fds", 0.0))

    # Observed as it happens.

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.durations.labels(route, method).observe(seconds)

    def failed_login(self, reason: str) -> None:
        self.failed_logins.labels(reason).inc()

    # A scrape.

    def exposition(self, relay_lag: float | None) -> bytes:
        """The text a scrape gets: this process's figures now, and under several workers every worker's."""
        self.sync()
        self.scraped.relay_lag = relay_lag
        if not self.multiprocess:
            return generate_latest(self.registry)
        _forget_dead_workers(Path(self.multiprocess))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, self.multiprocess)  # type: ignore[no-untyped-call]
        registry.register(self.scraped)
        return generate_latest(registry)


def _forget_dead_workers(directory: Path) -> None:
    """Remove the gauges of workers that are gone without saying so (killed): they must not count as live."""
    for path in directory.glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.match(path.name)
        if match is None:
            continue
        pid = int(match[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


def prepare_multiprocess_dir(directory: str | None) -> str:
    """The directory the workers of ``ticker serve --workers N`` write metrics to, empty: ``directory`` (the
    operator's PROMETHEUS_MULTIPROC_DIR) or a new temporary one. Files left by an earlier run would be added to
    this run's counts, so they are removed."""
    import tempfile

    path = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="ticker-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return str(path)
