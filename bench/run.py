"""Side-by-side fan-out benchmark: Ticker and its peers, the same load generator, the same scenarios.

    bench/setup_peers.sh                                   # once: the peers' venv and node modules
    bench/.venv-peers/bin/python bench/run.py              # Ticker from the repo's .venv (or --ticker-python)
    bench/.venv-peers/bin/python bench/run.py --quick      # 50 readers, every scenario shrunk: a few minutes

Starts a private redis-server on a free port, then for every system, reader count and scenario a fresh server
(so memory per reader is measured from a clean start), drives it with ``loadgen.run_scenario`` while
``measure`` samples the server's /proc, and writes the results as JSON under bench/results/, the report to
``--out`` (docs/benchmarks.md) and a plot beside it. ``--report RESULTS.json ...`` rewrites the report only,
merging the rows of several runs (say, the peers from one run and Ticker from a later one).

Two scenarios have a shape of their own (``OWN_SCENARIOS``): ``posts``, the write path alone (bench/posts.py, no
reader, 1 and 8 concurrent posters, every Ticker system, each run followed by the same run of ``--before``'s
commit), and ``newsroom``, a newsroom's day (100 incidents, ``--newsroom-readers`` spread Zipf-like, a post
every 2 s somewhere for 10 minutes; Ticker on PostgreSQL beside Bun ws and Node ws). A third, ``hundred-k``,
runs only when ``--hundred-k-readers`` is given (``hundred_k_rows``: that many readers on
``ticker serve --workers N``, rising steady rates, a rolling restart).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import loadgen
import measure

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
NOTES_MARK = "<!-- Everything below this line is kept when run.py rewrites the file. -->"
BUN = BENCH / "peers/bun/node_modules/.bin/bun"  # the binary of the `bun` npm package (bench/setup_peers.sh)


@dataclass(frozen=True)
class System:
    name: str
    kind: loadgen.TargetKind
    resume: bool  # has history and resumes by seq (only then does the reconnect storm make sense)
    label: str
    workers: int = 1
    postgres: bool = False  # Ticker on --postgres-url instead of a fresh SQLite file


SYSTEMS = {
    "ticker": System("ticker", "ticker", True, "Ticker (1 worker)"),
    # Several processes share one database: the production setup is PostgreSQL, so both sides of the
    # workers comparison run on it.
    "ticker-pg": System("ticker-pg", "ticker", True, "Ticker (1 worker, PostgreSQL)", postgres=True),
    "ticker-2w": System("ticker-2w", "ticker", True, "Ticker (--workers 2, PostgreSQL)", workers=2, postgres=True),
    "bun-ws": System("bun-ws", "peer", False, "Bun ws (uWebSockets) + 1 Redis subscriber"),
    "node-ws": System("node-ws", "peer", False, "Node ws + 1 Redis subscriber"),
    "broadcaster": System("broadcaster", "peer", False, "starlette + broadcaster (Redis)"),
    "socketio": System("socketio", "socketio", False, "python-socketio + AsyncRedisManager"),
}


@dataclass
class Context:
    redis_url: str
    work: Path
    ticker_python: str | None
    postgres_url: str | None = None  # the database of the systems marked postgres
    tokens: dict[str, str] = field(default_factory=dict)  # an editor's token per database
    tree: Path | None = None  # Ticker from this tree (``--before``'s) instead of the repo's


def ticker_env(ctx: Context) -> dict[str, str]:
    """What makes ``python -m ticker`` import ``ctx.tree``'s package: the repo (the working directory of every
    command) is not put first on sys.path, the tree is (and the editable install comes after both)."""
    return {"PYTHONSAFEPATH": "1", "PYTHONPATH": str(ctx.tree)} if ctx.tree else {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see its log")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {limit} s")


@contextmanager
def process(cmd: list[str], log: Path, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[int]:
    """Run ``cmd`` in its own session (so its workers can be stopped with it); yield its pid."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
            start_new_session=True,
        )
    try:
        if port is not None:
            wait_port(port, proc)
        yield proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def server_command(system: System, port: int, ctx: Context) -> tuple[list[str], dict[str, str]]:
    common = ["--host", "127.0.0.1", "--port", str(port)]
    if system.kind == "ticker":
        if not ctx.ticker_python:
            raise SystemExit("say --ticker-python (the python that has ticker installed) to run Ticker")
        workers = ["--workers", str(system.workers)] if system.workers > 1 else []
        env = {
            "TICKER_REDIS_URL": ctx.redis_url,
            "TICKER_DATABASE_URL": ticker_database(system, ctx),
            **ticker_env(ctx),
        }
        return [ctx.ticker_python, "-m", "ticker", "serve", *common, *workers], env
    redis = ["--redis", ctx.redis_url]
    if system.name == "node-ws":
        return ["node", str(BENCH / "peers/node/server.js"), *common, *redis], {}
    if system.name == "bun-ws":
        return [str(BUN), str(BENCH / "peers/bun/server.js"), *common, *redis], {}
    return [sys.executable, str(BENCH / f"peers/{system.name}_peer.py"), *common, *redis], {}


def ticker_database(system: System, ctx: Context) -> str:
    if not system.postgres:
        return f"sqlite+aiosqlite:///{ctx.work / 'ticker.db'}"
    if not ctx.postgres_url:
        raise SystemExit(f"{system.name} runs on PostgreSQL: say --postgres-url (a database it may write to)")
    return ctx.postgres_url


def ticker_token(system: System, ctx: Context) -> str:
    """A token of an editor (who may also create incidents), made once per database with the ticker CLI
    (which migrates the database first)."""
    database = ticker_database(system, ctx)
    if database not in ctx.tokens:
        assert ctx.ticker_python
        env = {**os.environ, "TICKER_DATABASE_URL": database, **ticker_env(ctx)}
        cli = [ctx.ticker_python, "-m", "ticker"]
        name = f"bench{int(time.time())}"  # a database kept from an earlier run already has its users
        subprocess.run(
            [*cli, "user", "add", name, "--role", "editor"], env=env, cwd=REPO, check=True, capture_output=True
        )
        made = subprocess.run(
            [*cli, "token", "create", "--user", name], env=env, cwd=REPO, check=True, capture_output=True, text=True
        )
        ctx.tokens[database] = made.stdout.strip().splitlines()[-1]
    return ctx.tokens[database]


def ticker_catchups(port: int) -> dict[str, int]:
    """Ticker's own count of catch-ups by source (node, broker, store, snapshot), from /healthz."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return dict(json.loads(response.read()).get("catchups", {}))
    except (OSError, ValueError):
        return {}


def run_one(system: System, sc: loadgen.Scenario, ctx: Context, procs: int) -> dict[str, Any]:
    port = free_port()
    cmd, env = server_command(system, port, ctx)
    token = ticker_token(system, ctx) if system.kind == "ticker" else None
    log = ctx.work / f"{system.name}.log"
    with process(cmd, log, env, port) as pid:
        time.sleep(0.25)  # let start-up work (imports, migrations, pools) settle before the idle sample
        samples: dict[str, measure.Sample] = {}
        catchups: dict[str, dict[str, int]] = {}

        def probe(phase: str) -> None:
            samples[phase] = measure.sample(pid)
            if system.kind == "ticker" and phase in ("start", "end"):
                catchups[phase] = ticker_catchups(port)

        async def drive() -> loadgen.Result:
            target = loadgen.make_target(system.kind, f"http://127.0.0.1:{port}", token)
            try:
                return await loadgen.run_scenario(
                    sc, target, f"http://127.0.0.1:{port}", system=system.name, procs=procs, probe=probe
                )
            finally:
                await target.close()

        result = loadgen.run_loop(drive())
    out = asdict(result)
    out["server"] = measure.server_figures(samples, result.received, result.subscribed)
    out["params"] = asdict(sc)
    if catchups:  # where resuming readers' history came from (one worker's view with --workers)
        start, end = catchups["start"], catchups["end"]
        out["catchups"] = {k: end.get(k, 0) - start.get(k, 0) for k in end}
    out["load_avg"] = round(os.getloadavg()[0], 2)  # others' work on this machine skews latency and connects/s
    return out


def row(system: System, sc: loadgen.Scenario, ctx: Context, procs: int) -> dict[str, Any]:
    """One table row: measured, or why not."""
    why = "n/a: no history, so no resume" if sc.storm_window and not system.resume else ""
    if not why:
        try:
            return run_one(system, sc, ctx, procs)
        except Exception as exc:  # one broken server must not lose the other rows
            why = f"failed: {type(exc).__name__}: {exc}"[:300]
    return {"system": system.name, "scenario": sc.name, "readers": sc.readers, "skipped": why}


def summary_line(r: dict[str, Any]) -> str:
    if r.get("skipped"):
        return f"{r['system']:>12} {r['scenario']:>6} {r['readers']:>6}  skipped: {r['skipped']}"
    if r["scenario"] == HUNDRED_K:
        return hundred_k_line(r)
    if r["scenario"] == "posts":
        cpu, to_201 = r["server_cpu_ms_per_post"], r["time_to_201_ms"]
        return (
            f"{r['system']:>12}  posts from {r['posters']}{' (' + r['before'] + ')' if r.get('before') else ''}  "
            f"{cpu['user']}+{cpu['sys']} ms/post  "
            f"{r['posts_per_s']} posts/s  p99 to 201 {to_201.get('p99', '-')} ms  seqs {r['seqs_ok']}"
        )
    s = r["server"]
    cpu = s["cpu_us_per_delivery"]
    lat = r["latency_ms"]
    return (
        f"{r['system']:>12} {r['scenario']:>6} {r['readers']:>6}  recv {r['received']}/{r['expected']} "
        f"p99 {lat.get('p99', '-')} ms  cpu {cpu['user']}+{cpu['sys']} us/dlv  "
        f"rss {s['rss_kib_per_reader']} KiB/rdr  {r['connects_per_s']} conn/s  lg {r['loadgen_busiest']:.0%}"
    )


# ---------------------------------------------------------------------------------------------------------
# Scenarios with a shape of their own: not one fresh server per system and reader count.

POSTERS = (1, 8)  # concurrent posters in the posts scenario
BEFORE = "0a6b753"  # the posts scenario's default --before: the last commit before issue 18's write path
NEWSROOM_GAP = 2.0  # seconds between two posts, each into the next incident
NEWSROOM_PEERS = ("bun-ws", "node-ws")  # the peers issue 18 compares with; Ticker runs it on PostgreSQL


def posts_rows(systems: list[System], ctx: Context, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The write path alone (bench/posts.py): no reader, posts into one incident from 1 and from 8 concurrent
    posters, each on its own keep-alive connection, for every Ticker system (a peer's publish is no post). With
    ``args.before`` (a git ref), each run is followed by the same run of that commit's Ticker (its row marked
    ``before``), on a database of its own when it is SQLite."""
    import posts  # it imports this module, so not at the top

    count, warmup = (50, 5) if args.quick else (400, 20)
    trees: list[tuple[str, Context]] = [("", ctx)]
    if args.before:
        commit = git("rev-parse", "--short", f"{args.before}^{{commit}}")
        work = ctx.work / f"before-{commit}"
        trees.append((commit, replace(ctx, work=work, tree=before_tree(commit, work / "tree"), tokens={})))
    for system, posters, (before, one) in itertools.product((s for s in systems if s.kind == "ticker"), POSTERS, trees):
        try:
            measured = posts.measure_posts(system, one, posters, count, warmup)
        except Exception as exc:  # one broken server must not lose the other rows
            measured = {"system": system.name, "posters": posters, "skipped": f"failed: {type(exc).__name__}: {exc}"}
        yield {
            **measured,
            "scenario": "posts",
            "readers": 0,
            "warmup": warmup,
            **({"before": before} if before else {}),
        }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def before_tree(ref: str, dest: Path) -> Path:
    """``ref``'s Ticker (its package, pages and pyproject) extracted into ``dest``, to run with this venv."""
    dest.mkdir(parents=True, exist_ok=True)  # again in a later round: extracted over the same files
    archive = subprocess.run(
        ["git", "archive", ref, "ticker", "web", "pyproject.toml"], cwd=REPO, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def newsroom(readers: int, quick: bool) -> loadgen.Scenario:
    """A newsroom's day: 100 incidents, readers spread Zipf-like, a post every few seconds somewhere
    (round-robin over the incidents), for 10 minutes, or 1 with ``quick``."""
    minutes = 1 if quick else 10
    posts = int(minutes * 60 / NEWSROOM_GAP)
    return loadgen.Scenario("newsroom", readers, incidents=100, posts=posts, rate=1 / NEWSROOM_GAP)


def newsroom_rows(systems: list[System], ctx: Context, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    sc = newsroom(args.newsroom_readers or (1_000 if args.quick else 10_000), args.quick)
    for system in systems:
        if system.postgres or system.name in NEWSROOM_PEERS:
            yield row(system, sc, ctx, args.procs)
        else:
            why = "n/a: the newsroom day runs Ticker on PostgreSQL (ticker-pg), beside Bun ws and Node ws"
            yield {"system": system.name, "scenario": sc.name, "readers": sc.readers, "skipped": why}


# ---------------------------------------------------------------------------------------------------------
# hundred-k (issue 18): many readers on `ticker serve --workers N`, one crowd through several phases.

HUNDRED_K = "hundred-k"
READERS_PER_PROCESS = 16_500  # the open-file limit is 20,000 a process: room for the hash's spread and own files
STEADY_RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # entries a second, tried in turn until one is not held
STEADY_SECONDS = 20.0  # each rate's phase (5 with --quick)
P99_LIMIT_MS = 1000.0
# Connects in flight per load generator process (until subscribed): readers a restart let go come back within
# about a second (their backoff), and a tighter cap would pace the storm instead of the server.
CONNECTING_PER_PROCESS = 2_000
STORM_RATE = 1.0  # entries a second during the rolling restart: a busy story
STATS_FLUSH_S = 11.0  # PostgreSQL 15 flushes an idle backend's statistics within 10 s


def hundred_k_rows(systems: list[System], ctx: Context, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """``--hundred-k-readers`` readers on one incident on ``ticker serve --workers N`` (PostgreSQL + Redis), N
    such that no worker holds more than ``READERS_PER_PROCESS``: connect time and RSS per reader; then the
    steady rates in turn while p99 post→receipt stays ≤ 1 s with nothing lost or twice; then a rolling restart
    of every worker (SIGHUP) while posts go on: all resumed, nothing lost or twice, and how often the database
    was asked. Only when ``--hundred-k-readers`` is given: it is a long run that wants a quiet machine."""
    readers = args.hundred_k_readers
    if not readers:
        return
    workers = max(2, -(-readers // READERS_PER_PROCESS))
    label = f"Ticker (--workers {workers}, PostgreSQL)"
    system = System(f"ticker-{workers}w", "ticker", True, label, workers=workers, postgres=True)
    try:
        yield hundred_k(system, readers, ctx, max(args.procs, -(-readers // READERS_PER_PROCESS)), args.quick)
    except Exception as exc:  # the rows measured before must not be lost
        yield {"system": system.name, "scenario": HUNDRED_K, "readers": readers, "skipped": f"failed: {exc!r}"[:300]}


def hundred_k(system: System, readers: int, ctx: Context, procs: int, quick: bool) -> dict[str, Any]:
    port = free_port()
    cmd, env = server_command(system, port, ctx)
    metrics_token = os.urandom(12).hex()
    token = ticker_token(system, ctx)
    log = ctx.work / f"{system.name}.log"
    with process(cmd, log, {**env, "TICKER_METRICS_TOKEN": metrics_token}, port) as pid:
        wait_listening(port, system.workers)
        time.sleep(0.25)
        run = HundredK(system, readers, procs, pid, port, log, metrics_token, ctx, quick)
        out = loadgen.run_loop(run.drive(token))
    return {"system": system.name, "scenario": HUNDRED_K, "readers": readers, "workers": system.workers, **out}


def wait_listening(port: int, count: int, limit: float = 120.0) -> None:
    """Until ``count`` sockets listen on ``port`` (each worker its own); the port answers once the first does."""
    deadline = time.monotonic() + limit
    while len(listening_sockets(port)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(listening_sockets(port))} of {count} workers listen after {limit} s")
        time.sleep(0.1)


def listening_sockets(port: int) -> list[str]:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:] + Path("/proc/net/tcp6").read_text().splitlines()[1:]
    return [f[9] for f in (line.split() for line in lines) if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port]


@dataclass
class HundredK:
    system: System
    readers: int
    procs: int
    pid: int  # the supervisor's
    port: int
    log: Path
    metrics_token: str
    ctx: Context
    quick: bool

    async def drive(self, token: str) -> dict[str, Any]:
        base = f"http://127.0.0.1:{self.port}"
        target = loadgen.make_target("ticker", base, token)
        crowd: loadgen.Crowd | None = None
        try:
            slug, since = await target.create_incident("Bench hundred-k")
            finals = {slug: since}
            idle, began = measure.sample(self.pid), time.monotonic()
            assignments = [(slug, since)] * self.readers
            connecting = CONNECTING_PER_PROCESS * self.procs
            crowd = loadgen.Crowd(base, "ticker", assignments, self.procs, connecting, connect_timeout=900.0)
            ready = await crowd.connected()
            connected = measure.sample(self.pid)
            subscribed = sum(r["subscribed"] for r in ready)
            connect_s = max(r["connect_s"] for r in ready)
            out: dict[str, Any] = {
                "procs": self.procs,
                "subscribed": subscribed,
                "connect_s": round(connect_s, 1),
                "connects_per_s": round(subscribed / connect_s, 1) if connect_s else 0.0,
                "connect_wall_s": round(time.monotonic() - began, 1),
                "connect_failed_by": dict(sum((Counter(r["failed_by"]) for r in ready), Counter()).most_common()),
                "rss_kib_per_reader": round((connected.rss_kib - idle.rss_kib) / max(1, subscribed), 2),
                "rss_mib": {"idle": idle.rss_kib // 1024, "connected": connected.rss_kib // 1024},
                "connect_cpu_us_per_reader": round(
                    (connected.user + connected.sys - idle.user - idle.sys) * 1e6 / max(1, subscribed), 1
                ),
                "fds_per_process": sorted(open_fds(self.pid), reverse=True),
                "load_avg": round(os.getloadavg()[0], 2),
            }
            steady = []
            for rate in STEADY_RATES:
                steady.append(await self.steady(crowd, target, slug, finals, rate))
                if not steady[-1]["held"]:
                    break
            out["steady"] = steady
            out["steady_rate_held"] = max((p["rate"] for p in steady if p["held"]), default=0.0)
            out["storm"] = await self.rolling_restart(crowd, target, slug, finals, STORM_RATE)
            out["load_avg_end"] = round(os.getloadavg()[0], 2)
            return out
        finally:
            if crowd is not None:
                crowd.close()
            await target.close()

    async def steady(
        self, crowd: loadgen.Crowd, target: loadgen.Target, slug: str, finals: dict[str, int], rate: float
    ) -> dict[str, Any]:
        seconds = 5.0 if self.quick else STEADY_SECONDS
        sc = loadgen.Scenario("steady", self.readers, posts=max(3, round(rate * seconds)), rate=rate)
        await crowd.ask("mark")
        first, before = finals[slug], measure.sample(self.pid)
        await loadgen.post_entries(sc, target, [slug], finals)
        reports = await crowd.ask("finish", (finals, sc.quiet))
        after = measure.sample(self.pid)
        phase = {"rate": rate, "seconds": seconds, **tally(reports, (finals[slug] - first) * self.readers)}
        phase["server_cpu_s"] = round(after.user + after.sys - before.user - before.sys, 2)
        phase["held"] = (
            phase["latency_ms"].get("p99", 0.0) <= P99_LIMIT_MS
            and phase["missing"] == phase["duplicates"] == 0
            and phase["received"] == phase["expected"]
        )
        print(f"  hundred-k steady {rate:g}/s: {phase}", flush=True)
        return phase

    async def rolling_restart(
        self, crowd: loadgen.Crowd, target: loadgen.Target, slug: str, finals: dict[str, int], rate: float
    ) -> dict[str, Any]:
        """SIGHUP to the supervisor: every worker restarted in turn while entries are posted at ``rate``."""
        await crowd.ask("mark")
        first = finals[slug]
        xacts_a = pg_transactions(self.ctx)
        await asyncio.sleep(STATS_FLUSH_S)  # a quiet window: the database's background transactions a second
        xacts_b, catchups_b = pg_transactions(self.ctx), self.metrics()
        cpu_b = tree_cpu_s(self.pid)
        mark = self.log.stat().st_size
        began = time.monotonic()
        os.kill(self.pid, signal.SIGHUP)
        while not logged_since(self.log, mark, b"rolling_restart_done"):
            if time.monotonic() - began > 1800:
                raise RuntimeError("the rolling restart did not finish within 30 minutes")
            finals[slug] = max(finals[slug], await post_retried(target, slug, finals[slug]))
            await asyncio.sleep(1 / rate)
        restart_s = time.monotonic() - began
        for _ in range(3):  # and a few once every worker is new
            finals[slug] = max(finals[slug], await post_retried(target, slug, finals[slug]))
            await asyncio.sleep(1 / rate)
        settled = await crowd.ask("settle", 300.0)
        resumed_s = time.monotonic() - began
        cpu_c = tree_cpu_s(self.pid)
        reports = await crowd.ask("finish", (finals, 10.0))
        await asyncio.sleep(STATS_FLUSH_S)
        xacts_c, catchups_c = pg_transactions(self.ctx), self.metrics()
        window = time.monotonic() - began
        background = (xacts_b - xacts_a) / STATS_FLUSH_S
        storm = {
            "rate": rate,
            "restart_s": round(restart_s, 1),
            "resumed_s": round(resumed_s, 1),
            "all_resumed": all(s["live"] == s["readers"] for s in settled),
            "live": sum(s["live"] for s in settled),
            **tally(reports, (finals[slug] - first) * self.readers),
            "posts": finals[slug] - first,
            "server_cpu_s": round(cpu_c - cpu_b, 1),
            "db_transactions": xacts_c - xacts_b,
            "db_transactions_background_estimate": round(background * window),
            "catchups": {k: round(v - catchups_b.get(k, 0.0)) for k, v in catchups_c.items()},
        }
        print(f"  hundred-k rolling restart: {storm}", flush=True)
        return storm

    def metrics(self) -> dict[str, float]:
        """The node's catch-up counters from /metrics, summed over every worker, those gone included."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/metrics", headers={"Authorization": f"Bearer {self.metrics_token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith(("ticker_catchups_total{", "ticker_snapshot_queries_total ")):
                name, value = line.rsplit(" ", 1)
                source = name.partition('source="')[2].rstrip('"}')
                found[source or "snapshot queries"] = float(value)
        return found


async def post_retried(target: loadgen.Target, slug: str, last: int) -> int:
    """A post during a rolling restart: a worker that stops under it drops the connection; post again."""
    for attempt in range(10):
        try:
            return await target.post(slug, attempt, 200)
        except (OSError, RuntimeError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.2)
    return last


def tally(reports: list[dict[str, Any]], expected: int) -> dict[str, Any]:
    latencies = array("d")
    for report in reports:
        latencies.frombytes(report["latencies"])
    return {
        "expected": expected,
        "received": len(latencies),
        "missing": sum(r["missing"] for r in reports),
        "duplicates": sum(r["duplicates"] for r in reports),
        "out_of_order": sum(r["out_of_order"] for r in reports),
        "snapshots": sum(r["snapshots"] for r in reports),
        "drops": sum(r["drops"] for r in reports),
        "connects": sum(r["reconnects"] for r in reports),
        "failed_connects": sum(r["failures"] for r in reports),
        "failed_by": dict(sum((Counter(r["failed_by"]) for r in reports), Counter()).most_common()),
        "latency_ms": {k: round(v * 1000, 1) for k, v in loadgen.percentiles(latencies.tolist()).items()},
        "loadgen_busiest": round(max(sum(r["cpu"]) / r["active_s"] if r["active_s"] > 0 else 0.0 for r in reports), 3),
    }


def open_fds(pid: int) -> list[int]:
    """Open files of every process under ``pid`` (the workers, each below the limit of 20,000)."""
    counts = []
    for p in measure.descendants(pid)[1:]:
        try:
            counts.append(len(os.listdir(f"/proc/{p}/fd")))
        except OSError:  # ended meanwhile
            continue
    return counts


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and every process below it, those it has reaped included (the workers a rolling
    restart replaced: their time is in the supervisor's cutime and cstime)."""
    tree = measure.sample(pid)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return tree.user + tree.sys + (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def logged_since(log: Path, offset: int, needle: bytes) -> bool:
    with log.open("rb") as f:
        f.seek(offset)
        return needle in f.read()


def pg_transactions(ctx: Context) -> int:
    """Transactions in the benchmark's database so far, committed or rolled back (a read-only one may end
    either way), from pg_stat_database."""
    assert ctx.postgres_url
    url = ctx.postgres_url.replace("+asyncpg", "")
    query = "select xact_commit + xact_rollback from pg_stat_database where datname = current_database()"
    return int(subprocess.run(["psql", url, "-Atc", query], check=True, capture_output=True, text=True).stdout)


def hundred_k_line(r: dict[str, Any]) -> str:
    storm = r["storm"]
    return (
        f"{r['system']:>12} {r['scenario']:>6} {r['readers']:>6}  connect {r['connect_s']} s  "
        f"rss {r['rss_kib_per_reader']} KiB/rdr  steady held {r['steady_rate_held']:g}/s  "
        f"rolling restart {storm['restart_s']} s, all resumed {storm['all_resumed']}, "
        f"missing {storm['missing']} twice {storm['duplicates']}, db transactions {storm['db_transactions']}"
    )


def hundred_k_section(results: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in results if r["scenario"] == HUNDRED_K]
    if not rows:
        return []
    seconds = next((r["steady"][0].get("seconds", STEADY_SECONDS) for r in rows if r.get("steady")), STEADY_SECONDS)
    lines = [
        f"## Scenario: {HUNDRED_K}",
        "",
        f"N readers on one incident on `ticker serve --workers W` (PostgreSQL + Redis; W so that no worker holds "
        f"more than {READERS_PER_PROCESS:,} of the 20,000 files a process may open; every worker its own "
        "SO_REUSEPORT socket), the load generator in processes of at most as many readers, connecting from "
        "127.0.0.2, 127.0.0.3 … Then entries at rising steady rates, "
        f"{seconds:g} s each, until one is not held (p99 post→receipt above {P99_LIMIT_MS:g} ms, or "
        "anything lost or twice); then a rolling restart (SIGHUP: every worker replaced in turn, its readers "
        f"closed with 1012 and resuming on the others) while entries are posted at {STORM_RATE:g} a second. Database "
        "transactions are pg_stat_database's xact_commit + xact_rollback over the restart (posts included), beside "
        "those the "
        "node made in a quiet window of as long; catch-ups by source are the node's own counters (/metrics, "
        "summed over the workers).",
        "",
        "| system | readers | connect s (readers/s) | RSS KiB per reader | connect CPU µs per reader | "
        "most files in a process | steady rate held at p99 ≤ 1 s | rolling restart s (all back after s), "
        "resumed, missing · dup, snapshots | database transactions (background) | catch-ups by source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['system']} | {r['readers']:,} | {r['skipped']} |" + " |" * 7)
            continue
        s = r["storm"]
        rates = ", ".join(
            f"{p['rate']:g}/s: p99 {p['latency_ms'].get('p99', 0):,.0f} ms"
            + ("" if p["held"] else f" ({p['missing']:,} missing, {p['duplicates']:,} twice)")
            for p in r["steady"]
        )
        catchups = ", ".join(f"{k} {v:,}" for k, v in s["catchups"].items() if v)
        lines.append(
            f"| {r['system']} | {r['subscribed']:,} of {r['readers']:,} "
            f"| {r['connect_s']:,} ({r['connects_per_s']:,.0f}) "
            f"| {r['rss_kib_per_reader']} | {r['connect_cpu_us_per_reader']:,} | {r['fds_per_process'][0]:,} "
            f"| **{'≥ ' if r['steady'][-1]['held'] else ''}{r['steady_rate_held']:g}/s** ({rates}) "
            f"| {s['restart_s']} ({s['resumed_s']}), {'all' if s['all_resumed'] else 'NOT all'} ({s['live']:,}), "
            f"{s['missing']:,} · {s['duplicates']:,}, {s['snapshots']:,} "
            f"| {s['db_transactions']:,} ({s['db_transactions_background_estimate']:,}) | {catchups or '—'} |"
        )
    lines.append("")
    for r in rows:  # why connects failed before the reader subscribed (bench/loadgen.py's Stats.failed_by)
        if not r.get("skipped") and r["storm"].get("failed_by"):
            s = r["storm"]
            why = "; ".join(f"{k}: {v:,}" for k, v in s["failed_by"].items())
            failed = f"{s['failed_connects']:,} of {s['connects']:,} connects failed"
            lines.append(f"{r['system']}, rolling restart: {failed} ({why}).")
    return [*lines, ""]


OWN_SCENARIOS: dict[str, Callable[[list[System], Context, argparse.Namespace], Iterator[dict[str, Any]]]] = {
    "posts": posts_rows,
    "newsroom": newsroom_rows,
    HUNDRED_K: hundred_k_rows,
}


# ---------------------------------------------------------------------------------------------------------
# The report.

BOTTLENECK = 0.9  # a load generator process busier than this share of a core was (or nearly was) the limit


def loadgen_us(r: dict[str, Any]) -> float:
    cpu = r["loadgen_cpu_s"]
    return (cpu["user"] + cpu["sys"]) * 1e6 / r["received"] if r["received"] else 0.0


def table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        "| system | readers | deliveries expected / received | missing · dup · out of order | "
        "p50 / p95 / p99 / max ms | server CPU µs per delivery (user + sys = total) | RSS KiB per reader | "
        "connect CPU µs per reader (user + sys = total) | connects/s | "
        "load generator µs per delivery · busiest process | bottleneck |"
    )
    columns = head.count("|") - 1
    lines = [head, "|" + "---|" * columns]
    for r in rows:
        name = SYSTEMS[r["system"]].label if r["system"] in SYSTEMS else r["system"]
        if r.get("skipped"):
            lines.append(f"| {name} | {r['readers']:,} | {r['skipped']} |" + " |" * (columns - 3))
            continue
        s, lat = r["server"], r["latency_ms"]
        cpu = s["cpu_us_per_delivery"]
        lats = " / ".join(f"{lat[k]:.1f}" for k in ("p50", "p95", "p99", "max")) if lat else "—"
        readers = f"{r['readers']:,}" + (f" (median of {r['rounds']})" if r.get("rounds") else "")
        if r["subscribed"] < r["readers"]:
            readers += f" ({r['subscribed']:,} subscribed)"
        lines.append(
            f"| {name} | {readers} "
            f"| {r['expected']:,} / {r['received']:,} | {r['missing']:,} · {r['duplicates']:,} · "
            f"{r['out_of_order']:,} | {lats} | {cpu['user']:.1f} + {cpu['sys']:.1f} = {cpu['user'] + cpu['sys']:.1f} "
            f"| {s['rss_kib_per_reader']:.1f} | {connect_cpu(s)} | {r['connects_per_s']:,.0f} "
            f"| {loadgen_us(r):.1f} · {r['loadgen_busiest']:.0%} "
            f"| {'load generator' if r['loadgen_busiest'] >= BOTTLENECK else ''} |"
        )
    return lines


def connect_cpu(server: dict[str, Any]) -> str:
    split = server.get("connect_cpu_us")  # rows from before the split was measured have the total only
    if split is None:
        return f"{server['connect_cpu_us_per_reader']:,.0f}"
    return f"{split['user']:,.0f} + {split['sys']:,.0f} = {server['connect_cpu_us_per_reader']:,.0f}"


SCENARIO_TEXT = {
    "steady": "N readers on one incident, {posts} entries at {rate:g} per second (a very busy story).",
    "burst": "{posts} entries posted one after another as fast as the API answers: saturates the server and "
    "shows its cost per delivery.",
    "burst8": "{posts} entries posted by {posters} concurrent posters (each on its own connection) as fast as the "
    "API answers, into one incident: events queue, several arriving while one is sent. A peer's posters number "
    "the frames before they send them, and the peer relays them in the order it gets them, so it may deliver "
    "them out of order (counted as such).",
    "storm": "N readers on one incident drop at once {storm_at:g} s into the run and resume (subscribe with "
    "`since`) at random moments within {storm_window:g} s while {posts} entries are posted at {rate:g} per "
    "second, as after a deploy. Latency here includes the time an event waited for its reader to come back.",
    "day": "{incidents} live incidents, readers spread over them Zipf-like (a few big stories, a long tail), "
    "{posts} entries posted round-robin at {rate:g} per second.",
    "newsroom": "A newsroom's day: {incidents} live incidents, readers spread over them Zipf-like, {posts} entries "
    "posted round-robin at {rate:g} per second (a post every few seconds somewhere), Ticker on PostgreSQL. Below "
    "the table, how busy each server was over the whole run.",
}


def _row(results: list[dict[str, Any]], system: str, scenario: str, readers: int) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in results
            if (r["system"], r["scenario"], r["readers"]) == (system, scenario, readers) and not r.get("skipped")
        ),
        None,
    )


def _cpu(r: dict[str, Any], part: str = "total") -> float:
    c = r["server"]["cpu_us_per_delivery"]
    return float(c["user"] + c["sys"] if part == "total" else c[part])


def targets(results: list[dict[str, Any]]) -> list[str]:
    """Issue 4's targets, as ratios in this run: at 10,000 readers (the issue's figure) and at the largest
    reader count that Ticker and Node ws both ran."""
    both = {r["readers"] for r in results if r["system"] == "ticker" and not r.get("skipped")} & {
        r["readers"] for r in results if r["system"] == "node-ws" and not r.get("skipped")
    }
    return [line for n in sorted({n for n in both if n == 10_000 or n == max(both)}) for line in _targets(results, n)]


def _targets(results: list[dict[str, Any]], n: int) -> list[str]:
    rows: list[str] = []

    def check(what: str, got: str, ok: bool) -> None:
        rows.append(f"| {what} | {got} | {'yes' if ok else '**no**'} |")

    tb, nb = _row(results, "ticker", "burst", n), _row(results, "node-ws", "burst", n)
    ts, ns = _row(results, "ticker", "steady", n), _row(results, "node-ws", "steady", n)
    python_peers = [r for r in (_row(results, p, "burst", n) for p in ("broadcaster", "socketio")) if r]
    if tb and python_peers:
        best = min(_cpu(r) for r in python_peers)
        check(
            "burst: CPU per delivery ≤ ½ of the best Python peer's",
            f"{_cpu(tb):.1f} vs {best:.1f} µs",
            _cpu(tb) <= best / 2,
        )
    if tb and nb:
        check("burst: CPU per delivery below Node ws's", f"{_cpu(tb):.1f} vs {_cpu(nb):.1f} µs", _cpu(tb) < _cpu(nb))
        user_t, user_n = _cpu(tb, "user"), _cpu(nb, "user")
        check("burst: user CPU per delivery ≤ ½ of Node ws's", f"{user_t:.1f} vs {user_n:.1f} µs", user_t <= user_n / 2)
        rss_t, rss_n = tb["server"]["rss_kib_per_reader"], nb["server"]["rss_kib_per_reader"]
        check("RSS per idle reader ≤ 1.5 × Node ws's", f"{rss_t:.1f} vs {rss_n:.1f} KiB", rss_t <= 1.5 * rss_n)
        con_t, con_n = tb["server"]["connect_cpu_us_per_reader"], nb["server"]["connect_cpu_us_per_reader"]
        check("connect CPU per reader ≤ Node ws's", f"{con_t:,.0f} vs {con_n:,.0f} µs", con_t <= con_n)
    if ts and ns:
        p99_t, p99_n = ts["latency_ms"].get("p99", 0.0), ns["latency_ms"].get("p99", 0.0)
        check("steady: p99 no worse than Node ws's", f"{p99_t:.1f} vs {p99_n:.1f} ms", p99_t <= p99_n)
    if ts:
        clean = ts["missing"] == ts["duplicates"] == 0 and ts["received"] == ts["expected"]
        check("steady: nothing lost, nothing twice", f"{ts['missing']} missing, {ts['duplicates']} twice", clean)
    storm = _row(results, "ticker", "storm", n)
    if storm:
        resumed = storm["missing"] == 0 and storm["storm"].get("all_resumed", False)
        check("storm: all resumed, nothing lost", f"{storm['missing']} missing", resumed)
    one, two = _row(results, "ticker-pg", "burst", n), _row(results, "ticker-2w", "burst", n)
    if one and two:
        rate_2, rate_1 = two["deliveries_per_s"], one["deliveries_per_s"]
        check(
            "burst: --workers 2 delivers clearly more per second than 1 (> 1.2×; both on PostgreSQL)",
            f"{rate_2:,.0f} vs {rate_1:,.0f} /s",
            rate_2 > 1.2 * rate_1,
        )
    held = max(
        (r["readers"] for r in results if r["system"] == "ticker" and r.get("received") == r.get("expected")),
        default=0,
    )
    check("20,000 readers held by one process", f"{held:,} (the most any run held, all delivered)", held >= 20_000)
    return [f"## Targets (issue 4) at {n:,} readers", "", "| target | this run | met |", "|---|---|---|", *rows, ""]


RATIO_FIGURES: dict[str, Callable[[dict[str, Any]], float]] = {
    "server CPU µs per delivery": _cpu,
    "user CPU µs per delivery": lambda r: _cpu(r, "user"),
    "p99 post→receipt ms": lambda r: float(r["latency_ms"].get("p99", 0.0)),
    "RSS KiB per reader": lambda r: float(r["server"]["rss_kib_per_reader"]),
    "connect CPU µs per reader": lambda r: float(r["server"]["connect_cpu_us_per_reader"]),
}
RATIO_SCENARIOS = (("burst", "ticker"), ("burst8", "ticker"), ("steady", "ticker"), ("newsroom", "ticker-pg"))


def ratios(results: list[dict[str, Any]]) -> list[str]:
    """Ticker's figures beside Bun ws's and Node ws's, with the ratios, wherever Ticker and one of them ran the
    same scenario with as many readers."""
    rows = []
    for (scenario, ticker), readers in itertools.product(RATIO_SCENARIOS, sorted({r["readers"] for r in results})):
        t, bun, node = (_row(results, system, scenario, readers) for system in (ticker, "bun-ws", "node-ws"))
        if t is None or (bun is None and node is None):
            continue
        measured = [r for r in (t, bun, node) if r is not None]
        where = f"{scenario}, {readers:,}" + (" (load generator bound)" if _bound(measured) else "")
        for what, figure in RATIO_FIGURES.items():
            cells = [f"{figure(r):,.1f}" if r else "—" for r in (t, bun, node)]
            shares = [f"{figure(t) / figure(r):.2f}" if r and figure(r) else "—" for r in (bun, node)]
            rows.append(f"| {where} | {what} | {' | '.join(cells)} | {' | '.join(shares)} |")
            where = ""
    if not rows:
        return []
    return [
        "## Ticker beside Bun ws and Node ws",
        "",
        "Each Ticker figure against the same figure of the two peers, and the ratio (below 1: Ticker spends "
        "less, or waits less); the three were measured one after the other in one run, unless this report "
        "merges several (`--report`). Ticker is the one-worker node on SQLite, on PostgreSQL in the newsroom day.",
        "",
        "| scenario, readers | figure | Ticker | Bun ws | Node ws | Ticker ÷ Bun | Ticker ÷ Node |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _bound(rows: list[dict[str, Any]]) -> bool:
    """Whether the load generator was (or nearly was) the limit in one of these rows."""
    return any(r["loadgen_busiest"] >= BOTTLENECK for r in rows)


POSTS_TEXT = (
    "No readers: {posts} entries into one incident (after {warmup} not counted) from 1 and from 8 concurrent "
    "posters, each on its own keep-alive connection, a fresh server each time (`bench/posts.py`). Server CPU "
    "from /proc around the posts; time to 201 as the poster sees it; the seqs returned must be base+1 … base+N, "
    "each once. The posters run in one process of the load generator: its CPU is shown, and flagged where it "
    "used more than {bound:.0%} of a core."
)


def posts_section(results: list[dict[str, Any]]) -> list[str]:
    import posts  # it imports this module, so not at the top

    rows = [r for r in results if r["scenario"] == "posts"]
    measured = [r for r in rows if not r.get("skipped") and not r.get("before")]
    if not rows:
        return []
    first = measured[0] if measured else {"posts": 0, "warmup": 0}
    text = POSTS_TEXT.format(posts=first["posts"], warmup=first["warmup"], bound=BOTTLENECK)
    notes = []
    for r in rows:
        name = f"- {SYSTEMS[r['system']].label}, {r['posters']} poster{'s' if r['posters'] > 1 else ''}"
        name += f", before ({r['before']})" if r.get("before") else ""
        if r.get("skipped"):
            notes.append(f"{name}: {r['skipped']}")
            continue
        share = r["poster_cpu_ms_per_post"] * r["posts_per_s"] / 1000  # of one core, all posters together
        flag = " — **load generator bound**: the posters, not the server, may have set the pace"
        notes.append(f"{name}: the posting process used {share:.0%} of a core{flag if share >= BOTTLENECK else ''}")
    after = posts.table(measured) if measured else []
    return ["## Scenario: posts", "", text, "", *after, "", *before_after(rows), *notes, ""]


def before_after(rows: list[dict[str, Any]]) -> list[str]:
    """The write path of ``--before``'s commit beside this tree's, measured one after the other in this run."""
    lines = []
    for old in (r for r in rows if r.get("before") and not r.get("skipped")):
        new = next((r for r in rows if _key(r) == _key({**old, "before": ""}) and not r.get("skipped")), None)
        if new is None:
            continue
        cpu_old, cpu_new = (sum(r["server_cpu_ms_per_post"].values()) for r in (old, new))
        user_old, user_new = (r["server_cpu_ms_per_post"]["user"] for r in (old, new))
        rate_old, rate_new = old["posts_per_s"], new["posts_per_s"]
        p99_old, p99_new = (r["time_to_201_ms"].get("p99", 0.0) for r in (old, new))
        lines.append(
            f"| {SYSTEMS[new['system']].label} | {new['posters']} "
            f"| {cpu_old:.2f} → {cpu_new:.2f} ({_ratio(cpu_new, cpu_old)}) "
            f"| {user_old:.2f} → {user_new:.2f} ({_ratio(user_new, user_old)}) "
            f"| {rate_old:,.1f} → {rate_new:,.1f} ({_ratio(rate_new, rate_old)}) "
            f"| {p99_old:.1f} → {p99_new:.1f} ({_ratio(p99_new, p99_old)}) "
            f"| {'yes' if old['seqs_ok'] else 'NO'} · {'yes' if new['seqs_ok'] else 'NO'} |"
        )
    if not lines:
        return []
    commit = next(r["before"] for r in rows if r.get("before"))
    return [
        f"Before ({commit}) and after (this tree), each pair measured one after the other in this run, the same "
        f"way (the same interpreter and dependencies; `{commit}`'s `ticker` package and pages from `git archive`), "
        "before → after (after ÷ before):",
        "",
        "| system | posters | server CPU ms per post | user CPU ms per post | posts/s | p99 to 201 ms | "
        "seq 1..N, each once (before · after) |",
        "|---|---|---|---|---|---|---|",
        *lines,
        "",
    ]


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}×" if old else "—"


def core_shares(rows: list[dict[str, Any]]) -> list[str]:
    """How busy each server was over a long scenario: its CPU over the time the posts took."""
    lines = []
    for r in rows:
        if not r.get("skipped") and r["post_s"] > 0:
            cpu = r["server"]["cpu_s"]["user"] + r["server"]["cpu_s"]["sys"]
            label = SYSTEMS[r["system"]].label
            lines.append(
                f"- {label}: {cpu:.1f} s of server CPU in {r['post_s']:.0f} s, {cpu / r['post_s']:.1%} of a core"
            )
    return [*lines, ""] if lines else []


def load_line(results: list[dict[str, Any]]) -> list[str]:
    loads = [r["load_avg"] for r in results if "load_avg" in r]
    if not loads:
        return []
    return [
        f"- 1-minute load average after each row: {min(loads):g} to {max(loads):g} (the benchmark itself brings "
        "about 2; more means other work shared the two cores and latency and connects/s suffered with it)"
    ]


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().split()[1]
    versions = []
    for name in ("uvloop", "uvicorn", "starlette", "python-socketio", "python-engineio", "broadcaster", "redis"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    bun = subprocess.run([BUN, "--version"], capture_output=True, text=True).stdout.strip() if BUN.exists() else "—"
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    lock = json.loads((BENCH / "peers/node/package-lock.json").read_text())["packages"]
    node_pkgs = [f"{k.removeprefix('node_modules/')} {v['version']}" for k, v in lock.items() if k.count("/") == 1]
    node_pkgs = [p for p in node_pkgs if p.split()[0] in ("ws", "ioredis")]
    return [
        f"- {os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, Linux {platform.release()}",
        f"- Python {platform.python_version()} (peers and load generator), node {node}, bun {bun}, "
        f"redis-server {redis}",
        f"- peers: {', '.join(versions + node_pkgs)}",
    ]


# A round's figures move with whatever else this machine does; rows measured in several rounds are collapsed to
# their median, except the correctness counts, which keep the worst round.
WORST: dict[str, Callable[[list[Any]], Any]] = {
    "missing": max,
    "duplicates": max,
    "out_of_order": max,
    "errors": max,
    "received": min,
    "subscribed": min,
}


def _key(r: dict[str, Any]) -> tuple[str, str, int, int, str]:
    """What a row measured: system, scenario, readers (and posters and the tree, in the posts scenario)."""
    return r["system"], r["scenario"], r["readers"], r.get("posters", 0), r.get("before", "")


def collapse(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (system, scenario, readers) of one run: the median of its rounds."""
    groups: dict[tuple[str, str, int, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    collapsed = []
    for group in groups.values():
        measured = [r for r in group if not r.get("skipped")]
        if len(measured) < 2:
            collapsed.append(measured[0] if measured else group[-1])
        else:
            collapsed.append({**_median(measured, ""), "rounds": len(measured)})
    return collapsed


def _median(values: list[Any], key: str) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {k: _median([v[k] for v in values if k in v], k) for k in first}
    if isinstance(first, bool):
        return all(values)  # e.g. all_resumed: true only if true in every round
    if not isinstance(first, int | float):
        return first
    if key in WORST:
        return WORST[key](values)
    return round(statistics.median(values), 3)


def merge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (system, scenario, readers): a later row replaces an earlier one, unless only it failed."""
    kept: dict[tuple[str, str, int, int, str], dict[str, Any]] = {}
    for r in rows:
        key = _key(r)
        if key not in kept or not r.get("skipped") or kept[key].get("skipped"):
            kept[key] = r
    return list(kept.values())


def report(results: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> None:
    plot_path = out.with_name(out.stem + ".png")
    plot(results, plot_path)
    kept = ""
    if out.exists() and NOTES_MARK in (text := out.read_text()):
        kept = text.split(NOTES_MARK, 1)[1]
    sources = ", ".join(f"`{path}`" for path in meta["results"])
    lines = [
        "# Fan-out benchmarks",
        "",
        f"Written by `bench/run.py` on {meta['date']} ({meta['command']}). Raw results: {sources}.",
        "",
        "## Method",
        "",
        "Every system runs on this machine with a private `redis-server` and is driven by the same load generator "
        "(`bench/loadgen.py`): bare asyncio protocols (uvloop) with a minimal websocket client, "
        f"{meta['procs']} reader process(es) plus a poster. Every entry body (about 200 bytes) carries the "
        "poster's clock at the moment it sent the post, so each receipt gives post→receipt latency; readers "
        "track the last `seq` per incident and count missing, duplicate and out-of-order events. Each "
        "(system, readers, scenario) gets a fresh server process, and the systems run one after another for "
        "each scenario and reader count, so the rows compared were measured close in time; with `--rounds N` "
        "everything runs N times in turn and a row is the median of its rounds, except missing, duplicate and "
        "out-of-order counts, which are the worst round's. Server CPU is user and system time from "
        "`/proc/PID/stat` of the server and its children between the first post and the last receipt, divided "
        "by the deliveries received; RSS per reader is the growth of `VmRSS` while the readers connected; "
        "connect CPU is the server's CPU in that phase per reader. The load generator's CPU (getrusage of its "
        "processes) is shown beside it: the machine has two cores, and a row whose busiest load generator "
        f"process used more than {BOTTLENECK:.0%} of a core is flagged — there the load generator, not the "
        "server, may have set the pace.",
        "",
        "Peers are fed through Redis like Ticker: they expose `POST /publish/{slug}` whose body is an event "
        "frame of the same shape and size as Ticker's `entry.posted` (the poster numbers it), published to a "
        "Redis channel and sent by the peer to every local subscriber of that channel. They keep no history, "
        "so the reconnect storm is run for Ticker only. python-socketio speaks Engine.IO 4 / Socket.IO 5 over "
        "the websocket transport only. Peers: `bench/peers/` (Bun's built-in websocket server, uWebSockets in "
        "C++, whose `server.publish` sends to every socket subscribed to the incident's topic, with Bun's own "
        "Redis client as its one subscriber; Node `ws` with one ioredis subscriber; "
        "starlette + `broadcaster` 0.3.1 with redis-py 7.4, written as its README's chat example; "
        "python-socketio `AsyncServer` with `AsyncRedisManager`), each one process; the Python ones on "
        "uvloop/httptools.",
        "",
        "## Machine",
        "",
        *meta["machine"],
        *load_line(results),
        "",
        *targets(results),
        *ratios(results),
        *posts_section(results),
        *hundred_k_section(results),
    ]
    for name in (*loadgen.SCENARIOS, "newsroom"):
        rows = [r for r in results if r["scenario"] == name]
        if rows:
            shape = newsroom(1, quick=False) if name == "newsroom" else loadgen.scenario(name, 1)
            params = next((r["params"] for r in rows if "params" in r), asdict(shape))
            lines += [f"## Scenario: {name}", "", SCENARIO_TEXT[name].format(**params), "", *table(rows), ""]
            storms = [r for r in rows if r.get("storm")]
            lines += [
                f"- {r['system']}, {r['readers']:,} readers: {'all' if r['storm']['all_resumed'] else 'NOT all'} "
                f"resumed within {r['storm']['resumed_s']} s of the drop; catch-ups by source (the server's "
                f"/healthz): {', '.join(f'{k} {v:,}' for k, v in r.get('catchups', {}).items()) or 'not reported'}"
                for r in storms
            ] + ([""] if storms else [])
            lines += core_shares(rows) if name == "newsroom" else []
    lines += [f"![p99 latency and CPU per delivery against readers]({plot_path.name})", "", NOTES_MARK]
    out.write_text("\n".join(lines) + (kept or "\n"))


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for system in dict.fromkeys(r["system"] for r in results):
        label = SYSTEMS[system].label if system in SYSTEMS else system
        steady = sorted(
            (r["readers"], r["latency_ms"]["p99"])
            for r in results
            if r["system"] == system and r["scenario"] == "steady" and r.get("latency_ms")
        )
        burst = sorted(
            (r["readers"], r["server"]["cpu_us_per_delivery"])
            for r in results
            if r["system"] == system and r["scenario"] == "burst" and r.get("server")
        )
        color = f"C{list(SYSTEMS).index(system) % 10}" if system in SYSTEMS else None  # the same in every plot
        if steady:
            left.plot(*zip(*steady, strict=True), marker="o", label=label, color=color)
        if burst:
            xs = [x for x, _ in burst]
            right.plot(xs, [c["user"] + c["sys"] for _, c in burst], marker="o", label=label, color=color)
            right.plot(xs, [c["user"] for _, c in burst], marker=".", linestyle="--", color=color)
    left.set(title="steady: p99 post→receipt", xlabel="readers", ylabel="ms", yscale="log")
    right.set(title="burst: server CPU per delivery (dashed: user only)", xlabel="readers", ylabel="µs", yscale="log")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="ticker,bun-ws,node-ws,broadcaster,socketio", help=", ".join(SYSTEMS))
    parser.add_argument("--readers", default="1000,5000,10000", help="reader counts, comma-separated")
    parser.add_argument("--scenarios", default=",".join((*loadgen.SCENARIOS, *OWN_SCENARIOS)))
    parser.add_argument(
        "--newsroom-readers", type=int, help="readers in the newsroom scenario (10,000; 1,000 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="50 readers (1,000 in the newsroom), every scenario shrunk"
    )
    parser.add_argument("--procs", type=int, default=1, help="load generator reader processes")
    parser.add_argument(
        "--hundred-k-readers", type=int, help="readers in the hundred-k scenario (100,000); it runs only when given"
    )
    parser.add_argument(
        "--before",
        default=BEFORE,
        help=f"posts: also run this git ref's Ticker, each run beside this tree's ({BEFORE}: before issue 18's "
        "write path; '' for none)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run everything this many times in turn; the report shows medians"
    )
    parser.add_argument("--ticker-python", default=os.environ.get("TICKER_PYTHON") or _repo_python())
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TICKER_BENCH_POSTGRES_URL"),
        help="database for ticker-pg and ticker-2w, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs/benchmarks.md")
    parser.add_argument(
        "--report", type=Path, nargs="+", help="only rewrite --out from these results.json files (merged)"
    )
    args = parser.parse_args()
    if args.report:
        saved = [json.loads(path.read_text()) for path in args.report]
        meta = {**saved[-1]["meta"], "results": [str(path) for path in args.report]}
        meta["procs"] = " or ".join(sorted({str(s["meta"]["procs"]) for s in saved}))
        meta["command"] = "; ".join(s["meta"]["command"] for s in saved)
        report(merge([r for s in saved for r in collapse(s["results"])]), meta, args.out)
        return
    loadgen.raise_nofile()
    systems = [SYSTEMS[name] for name in args.systems.split(",")]
    counts = [50] if args.quick else [int(n) for n in args.readers.split(",")]
    names = args.scenarios.split(",")
    results_dir = BENCH / "results" / time.strftime("%Y%m%d-%H%M%S")
    results_dir.mkdir(parents=True)
    results_path = results_dir / "results.json"
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "bench/run.py " + " ".join(_shown(sys.argv[1:])),
        "results": [str(results_path.relative_to(REPO))],
        "procs": args.procs,
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="ticker-bench-") as tmp:
        work = Path(tmp)
        redis_port = free_port()
        redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp]
        results: list[dict[str, Any]] = []
        with process(redis_cmd, work / "redis.log", port=redis_port):
            redis_url = f"redis://127.0.0.1:{redis_port}"
            ctx = Context(redis_url, work, args.ticker_python, args.postgres_url)
            for _round in range(args.rounds):
                fanout = (
                    row(system, loadgen.scenario(name, readers, quick=args.quick), ctx, args.procs)
                    for readers, name, system in itertools.product(counts, names, systems)
                    if name not in OWN_SCENARIOS
                )
                own = (r for name in names if name in OWN_SCENARIOS for r in OWN_SCENARIOS[name](systems, ctx, args))
                for result in itertools.chain(fanout, own):
                    results.append(result)
                    print(summary_line(result), flush=True)
                    results_path.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
        for log in work.rglob("*.log"):  # the servers' own output, for when a row looks wrong
            if log.stat().st_size:
                shutil.copy(log, results_dir / "-".join(log.relative_to(work).parts))
    report(collapse(results), meta, args.out)
    print(f"wrote {args.out} and {results_path}")


def _shown(argv: list[str]) -> list[str]:
    """The command line without secrets (a token, a database URL with its password)."""
    secret = ("--postgres-url",)
    shown: list[str] = []
    for arg in argv:
        if shown and shown[-1] in secret:
            shown.append("…")
        else:
            shown.append(arg.split("=", 1)[0] + "=…" if arg.startswith(secret) and "=" in arg else arg)
    return shown


def _repo_python() -> str | None:
    candidate = REPO / ".venv/bin/python"
    return str(candidate) if candidate.exists() else None


if __name__ == "__main__":
    main()
