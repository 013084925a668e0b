"""The write path alone: a post's server CPU, posts per second and time to 201, with no reader connected.

    bench/.venv-peers/bin/python bench/posts.py                          # Ticker on SQLite (+ Redis)
    bench/.venv-peers/bin/python bench/posts.py --systems ticker,ticker-pg --postgres-url postgresql+asyncpg://…
    bench/.venv-peers/bin/python bench/posts.py --posters 8 --py-spy /tmp/posts   # and a profile of each run

For every system and every poster count a fresh server (as bench/run.py starts it: a private redis-server, the
repo's Ticker) takes ``--posts`` entries into one incident from that many concurrent posters, each on its own
keep-alive connection. Server CPU is read from /proc around the posts (after ``--warmup`` posts that are not
counted); the posters' own CPU is shown beside it, since on 2 cores they compete with the server. Each run also
checks the guarantees the speed must not cost: every 201 carries a seq, the seqs are base+1 … base+N with no gap
and none twice. ``--py-spy DIR`` records the server with py-spy (on PATH) during the measured posts: one file of
collapsed stacks per run (``DIR/<system>-<posters>.txt``, for flamegraph.pl or ``--top``'s summary).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import loadgen
import measure
import run


async def _poster(target: loadgen.TickerTarget, slug: str, count: int, first: int, times: list[float]) -> list[int]:
    seqs = []
    for n in range(first, first + count):
        began = time.monotonic()
        seqs.append(await target.post(slug, n, 200))
        times.append(time.monotonic() - began)
    return seqs


def measure_posts(
    system: run.System, ctx: run.Context, posters: int, posts: int, warmup: int, spy: Path | None = None
) -> dict[str, Any]:
    port = run.free_port()
    cmd, env = run.server_command(system, port, ctx)
    token = run.ticker_token(system, ctx)
    base = f"http://127.0.0.1:{port}"
    with run.process(cmd, ctx.work / f"{system.name}-posts.log", env, port) as pid:

        async def drive() -> dict[str, Any]:
            targets = [loadgen.TickerTarget(base, token) for _ in range(posters)]
            try:
                slug, _ = await targets[0].create_incident(f"Bench posts {posters}")
                await _poster(targets[0], slug, warmup, 0, [])
                seq_before = (await _poster(targets[0], slug, 1, warmup, []))[0]
                times: list[float] = []
                share, extra = divmod(posts, posters)
                counts = [share + (i < extra) for i in range(posters)]
                firsts = [warmup + 1 + sum(counts[:i]) for i in range(posters)]
                recorder = _spy(pid, spy / f"{system.name}-{posters}.txt") if spy else None
                server0, own0, began = measure.sample(pid), loadgen.cpu_seconds(), time.monotonic()
                done = await asyncio.gather(
                    *(_poster(t, slug, c, f, times) for t, c, f in zip(targets, counts, firsts, strict=True))
                )
                took = time.monotonic() - began
                server1, own1 = measure.sample(pid), loadgen.cpu_seconds()
                if recorder is not None:
                    recorder.send_signal(signal.SIGINT)
                    recorder.wait()
            finally:
                for target in targets:
                    await target.close()
            seqs = sorted(s for one in done for s in one)
            expected = list(range(seq_before + 1, seq_before + posts + 1))
            server_ms = ((server1.user - server0.user) * 1e3 / posts, (server1.sys - server0.sys) * 1e3 / posts)
            return {
                "system": system.name,
                "posters": posters,
                "posts": posts,
                "seqs_ok": seqs == expected,
                "server_cpu_ms_per_post": {"user": round(server_ms[0], 3), "sys": round(server_ms[1], 3)},
                "posts_per_s": round(posts / took, 1),
                "time_to_201_ms": {k: round(v * 1000, 2) for k, v in loadgen.percentiles(times).items()},
                "poster_cpu_ms_per_post": round((sum(own1) - sum(own0)) * 1e3 / posts, 3),
                "load_avg": round(os.getloadavg()[0], 2),
            }

        return loadgen.run_loop(drive())


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` into ``out`` (collapsed stacks) until it gets SIGINT."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "200",
        "--nolineno",
        "--output",
        str(out),
    ]
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the posts begin
    return recorder


# Leaves where a thread waits rather than works, which py-spy cannot tell apart: aiosqlite's threads in their
# queue's get, the event loop in uvloop's epoll (also its C callbacks: a small share), a pool thread's wait.
WAITING = frozenset({"_connection_worker_thread (aiosqlite/core.py)", "Runner.run (asyncio/runners.py)", ""})


def top(collapsed: Path, count: int = 30) -> list[str]:
    """The functions most often on CPU in a py-spy recording, waiting leaves left out: self and total share."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if frames[-1] in WAITING:
            continue
        samples += int(n)
        own[frames[-1]] += int(n)
        for frame in set(frames):
            total[frame] += int(n)
    lines = [f"{samples} samples at work; self % / total % / function"]
    for frame, n in own.most_common(count):
        lines.append(f"{100 * n / samples:5.1f} {100 * total[frame] / samples:5.1f}  {frame}")
    return lines


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| system | posters | posts | seq 1..N, each once | server CPU ms per post (user + sys = total) | "
        "posts/s | time to 201 p50 / p99 / max ms | poster CPU ms per post | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cpu, t = r["server_cpu_ms_per_post"], r["time_to_201_ms"]
        lines.append(
            f"| {run.SYSTEMS[r['system']].label} | {r['posters']} | {r['posts']:,} | {'yes' if r['seqs_ok'] else 'NO'} "
            f"| {cpu['user']:.2f} + {cpu['sys']:.2f} = {cpu['user'] + cpu['sys']:.2f} | {r['posts_per_s']:,.1f} "
            f"| {t['p50']:.1f} / {t['p99']:.1f} / {t['max']:.1f} | {r['poster_cpu_ms_per_post']:.2f} "
            f"| {r['load_avg']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="ticker", help="ticker, ticker-pg (systems of bench/run.py)")
    parser.add_argument("--posters", default="1,8", help="concurrent posters, comma-separated")
    parser.add_argument("--posts", type=int, default=400, help="posts measured per run")
    parser.add_argument("--warmup", type=int, default=20, help="posts before the measurement (not counted)")
    parser.add_argument("--ticker-python", default=os.environ.get("TICKER_PYTHON") or run._repo_python())
    parser.add_argument("--postgres-url", default=os.environ.get("TICKER_BENCH_POSTGRES_URL"))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--py-spy", type=Path, help="record each run's server with py-spy into this directory")
    parser.add_argument("--top", type=Path, help="only print the top of a py-spy recording made with --py-spy")
    args = parser.parse_args()
    if args.top:
        print("\n".join(top(args.top)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="ticker-posts-") as tmp:
        work = Path(tmp)
        redis_port = run.free_port()
        redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp]
        with run.process(redis_cmd, work / "redis.log", port=redis_port):
            ctx = run.Context(f"redis://127.0.0.1:{redis_port}", work, args.ticker_python, args.postgres_url)
            for name in args.systems.split(","):
                for posters in (int(p) for p in args.posters.split(",")):
                    rows.append(measure_posts(run.SYSTEMS[name], ctx, posters, args.posts, args.warmup, args.py_spy))
                    print(table(rows[-1:])[-1], flush=True)
    print("\n".join(table(rows)))
    if args.json:
        args.json.write_text(json.dumps({"command": "bench/posts.py " + " ".join(sys.argv[1:]), "rows": rows}))
    if not all(r["seqs_ok"] for r in rows):
        raise SystemExit("a run's seqs were not base+1 … base+N, each once")


if __name__ == "__main__":
    main()
