"""Wall time of ``ticker post`` against a running node: a benchmark, not a test (it asserts nothing).

    .venv/bin/python bench/cli_post.py                    # 20 timed runs after 3 warm-up runs
    .venv/bin/python bench/cli_post.py --runs 50 --importtime

Starts a node (``ticker serve`` on a free port of 127.0.0.1, a fresh SQLite file in a temporary directory), makes
an editor with a token and an incident through the ``ticker`` command itself, then runs the command a reporter
types, ``ticker post SLUG TEXT --url URL --token TOKEN``, again and again as a new process, timing each from
spawn to exit (as hyperfine does). For comparison it times the same POST made from this already-running process
(the request alone), and the interpreter's own start (``python -c pass``). ``--importtime`` adds the slowest
imports of one ``ticker post`` run (``python -X importtime``). Results go to stdout as text; docs/benchmarks.md
keeps the figures of record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark-password-1"  # meets the password policy; the node lives only as long as this script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Callable[[], None], runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """Wall time of each run, and the CPU time (user + system) its child processes used: on a machine others
    share, the CPU time moves far less than the wall time."""
    for _ in range(warmup):
        command()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), children_cpu()
        command()
        times.append(time.perf_counter() - start)
        cpu.append(children_cpu() - start_cpu)
    return times, cpu


def summary(name: str, measured: tuple[list[float], list[float]]) -> str:
    ms, cpu = [t * 1000 for t in measured[0]], [t * 1000 for t in measured[1]]
    spread = statistics.stdev(ms) if len(ms) > 1 else 0.0
    line = (
        f"{name:<30} wall: mean {statistics.mean(ms):6.0f} ms ± {spread:4.0f}, median {statistics.median(ms):6.0f},"
        f" min {min(ms):6.0f}, max {max(ms):6.0f} ({len(ms)} runs)"
    )
    if any(cpu):
        line += f"; CPU: median {statistics.median(cpu):5.0f} ms"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticker", default=str(REPO / ".venv" / "bin" / "ticker"), help="the console script")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports of one run")
    args = parser.parse_args()
    python = str(Path(args.ticker).parent / "python")

    with tempfile.TemporaryDirectory(prefix="ticker-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
        # Both ways of naming the database, so the script runs against versions with and without a data dir.
        env |= {"TICKER_DATA_DIR": tmp, "TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/ticker.db"}

        def ticker(*argv: str) -> str:
            done = subprocess.run(
                [args.ticker, *argv], env=env, cwd=tmp, capture_output=True, text=True, check=False, timeout=120
            )
            if done.returncode:
                sys.exit(f"ticker {' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
            return done.stdout

        ticker("db", "upgrade")
        ticker("user", "add", "bench", "--role", "editor", "--password", PASSWORD)
        token = ticker("token", "create", "--user", "bench").strip().splitlines()[-1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(Path(tmp) / "node.log", "wb") as log:
            node = subprocess.Popen(
                [args.ticker, "serve", "--port", str(port)], env=env, cwd=tmp, stdout=log, stderr=log
            )
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        urllib.request.urlopen(f"{url}/healthz", timeout=2)
                        break
                    except OSError:
                        if time.monotonic() > deadline or node.poll() is not None:
                            sys.exit("the node did not start:\n" + (Path(tmp) / "node.log").read_text())
                        time.sleep(0.1)
                slug = ticker("incident", "create", "Benchmark", "--url", url, "--token", token).strip()
                post = [args.ticker, "post", slug, "Mätning.", "--url", url, "--token", token]

                def run_post() -> None:
                    subprocess.run(post, env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)

                def request_alone() -> None:
                    body = json.dumps({"body": "Mätning."}).encode()
                    request = urllib.request.Request(
                        f"{url}/api/incidents/{slug}/entries",
                        data=body,
                        method="POST",
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                            "Idempotency-Key": str(uuid.uuid4()),
                        },
                    )
                    with urllib.request.urlopen(request, timeout=30) as response:
                        response.read()

                def python_start() -> None:
                    subprocess.run([python, "-c", "pass"], check=True)

                load = os.getloadavg()[0]
                print(f"ticker: {args.ticker}; node {url}; 1-minute load average before: {load:.2f}")
                print(summary("ticker post (new process)", timed(run_post, args.runs, args.warmup)))
                print(summary("the POST alone (this process)", timed(request_alone, args.runs, args.warmup)))
                print(summary("python -c pass", timed(python_start, args.runs, args.warmup)))
                print(f"1-minute load average after: {os.getloadavg()[0]:.2f}")
                if args.importtime:
                    print_importtime(python, post[1:], env, tmp)
            finally:
                node.terminate()
                node.wait(30)


def print_importtime(python: str, argv: Sequence[str], env: dict[str, str], cwd: str) -> None:
    """The slowest top-level imports of one run, by cumulative microseconds (``python -X importtime``)."""
    done = subprocess.run(
        [python, "-X", "importtime", "-m", "ticker", *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if found and len(found.group(3)) <= 3:  # a top-level import (one space) and what it imports (three)
            rows.append((int(found.group(2)), found.group(4), len(found.group(3)) == 1))
    total = sum(us for us, _name, top in rows if top)
    print(f"\nimports of one run: {len(done.stderr.splitlines()) - 1} modules, {total / 1000:.0f} ms in all")
    for us, name, top in sorted(rows, reverse=True)[:15]:
        print(f"  {us / 1000:7.1f} ms  {'' if top else '  '}{name}")


if __name__ == "__main__":
    main()
