"""The load generator still speaks Ticker's protocol: a quick 50-reader run of each scenario; bench/run.py's
posts scenario (this tree's beside another commit's) and its table of ratios to the peers (no timing)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.cli import reporter_token
from tests.support.services import RedisServer, ServerProcess

BENCH = Path(__file__).parent.parent / "bench"
LOADGEN = BENCH / "loadgen.py"


@pytest.mark.parametrize("scenario", ["burst", "burst8", "storm", "day"])
def test_fifty_readers_get_every_delivery_once_in_order(tmp_path: Path, scenario: str) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db"}
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as node:
        done = subprocess.run(
            [
                sys.executable,
                str(LOADGEN),
                "--target",
                "ticker",
                "--url",
                node.url,
                "--token",
                token,
                "--scenario",
                scenario,
                "--readers",
                "50",
                "--quick",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["subscribed"] == 50
    assert result["expected"] > 0
    assert result["received"] == result["expected"]
    assert (result["missing"], result["duplicates"], result["out_of_order"]) == (0, 0, 0)
    if scenario == "storm":
        assert result["storm"]["all_resumed"] is True


@pytest.fixture
def bench_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """bench/run.py as a module (it imports its neighbours by their plain names)."""
    monkeypatch.syspath_prepend(str(BENCH))
    yield importlib.import_module("run")
    for name in ("run", "posts", "loadgen", "measure"):
        sys.modules.pop(name, None)


def test_posts_scenario_gives_every_seq_once(
    tmp_path: Path, redis_server: RedisServer, bench_run: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_run, "POSTERS", (8,))  # one server is enough to try the concurrent case
    ctx = bench_run.Context(redis_server.url, tmp_path, sys.executable)
    rows = list(bench_run.posts_rows([bench_run.SYSTEMS["ticker"]], ctx, argparse.Namespace(quick=True, before="")))
    assert [(r["posters"], r["posts"], r["seqs_ok"], r.get("skipped")) for r in rows] == [(8, 50, True, None)]
    assert "| Ticker (1 worker) | 8 | 50 | yes |" in "\n".join(bench_run.posts_section(rows))


def _posts(cpu_ms: float, posts_per_s: float, before: str = "") -> dict[str, Any]:
    return {
        "system": "ticker-pg",
        "scenario": "posts",
        "readers": 0,
        "posters": 8,
        "posts": 400,
        "warmup": 20,
        "seqs_ok": True,
        "server_cpu_ms_per_post": {"user": cpu_ms * 3 / 4, "sys": cpu_ms / 4},
        "posts_per_s": posts_per_s,
        "time_to_201_ms": {"p50": 10.0, "p99": 20.0, "max": 30.0},
        "poster_cpu_ms_per_post": 0.5,
        "load_avg": 2.0,
        **({"before": before} if before else {}),
    }


def test_posts_table_sets_each_run_beside_the_same_run_before(bench_run: ModuleType) -> None:
    rows = [_posts(2.0, 400.0), _posts(8.0, 100.0, before="0a6b753")]
    assert len(bench_run.collapse(rows)) == 2  # the two trees' rows are kept apart
    section = bench_run.posts_section(rows)
    assert (
        "| Ticker (1 worker, PostgreSQL) | 8 | 8.00 → 2.00 (0.25×) | 6.00 → 1.50 (0.25×) | 100.0 → 400.0 (4.00×) "
        "| 20.0 → 20.0 (1.00×) | yes · yes |" in section
    )
    assert sum(line.startswith("| Ticker (1 worker, PostgreSQL) | 8 | 400 |") for line in section) == 1  # after only


def test_a_before_tree_runs_its_own_ticker(tmp_path: Path, bench_run: ModuleType) -> None:
    tree = bench_run.before_tree("HEAD", tmp_path / "tree")
    ctx = bench_run.Context("redis://127.0.0.1:1", tmp_path, sys.executable, tree=tree)
    _, env = bench_run.server_command(bench_run.SYSTEMS["ticker"], 8000, ctx)
    assert bench_run.ticker_env(ctx).items() <= env.items()
    found = subprocess.run(
        [sys.executable, "-c", "import ticker.assets as a; print(a.__file__); print(a._web())"],
        env={**os.environ, **bench_run.ticker_env(ctx)},
        cwd=bench_run.REPO,  # where run.py starts every command: its own ticker must not come first
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.split() == [str(tree / "ticker/assets.py"), str(tree / "web")]


def _burst(system: str, cpu_us: float, loadgen_busiest: float = 0.5) -> dict[str, Any]:
    return {
        "system": system,
        "scenario": "burst",
        "readers": 1000,
        "server": {
            "cpu_us_per_delivery": {"user": cpu_us / 4, "sys": cpu_us * 3 / 4},
            "rss_kib_per_reader": 4.0,
            "connect_cpu_us_per_reader": 100.0,
        },
        "latency_ms": {"p99": 10.0},
        "loadgen_busiest": loadgen_busiest,
    }


def test_ratios_set_ticker_beside_bun_and_node(bench_run: ModuleType) -> None:
    rows = [_burst("ticker", 10.0), _burst("bun-ws", 5.0), _burst("node-ws", 20.0, loadgen_busiest=0.95)]
    lines = bench_run.ratios(rows)
    assert (
        "| burst, 1,000 (load generator bound) | server CPU µs per delivery | 10.0 | 5.0 | 20.0 | 2.00 | 0.50 |"
        in lines
    )
    assert "|  | RSS KiB per reader | 4.0 | 4.0 | 4.0 | 1.00 | 1.00 |" in lines
    assert bench_run.ratios(rows[:1]) == []  # no peer beside it, no table
