"""Where an idle reader's bytes go: a node in this process, N readers from another, a tracemalloc diff.

Starts a Ticker node (SQLite in a temporary directory, the in-process broker, uvicorn with Ticker's protocol
classes, uvloop when installed), opens one incident, and has a child process open ``--warm`` readers (so that
what the first connections allocate once is not counted), then ``--readers`` more, each subscribed to the
incident and then idle. Between the two it takes a tracemalloc snapshot, the process's RSS and its CPU time
(what connecting and subscribing cost the node: the readers' side is another process), and prints the
bytes per reader (Python allocations, and RSS) as one JSON line, then the top source lines, one a line.
tracemalloc's own bookkeeping (tens of bytes per block) inflates RSS: take RSS from a run with ``--no-trace``.

    .venv/bin/python bench/idle_memory.py --readers 2000              # where the bytes go
    .venv/bin/python bench/idle_memory.py --readers 2000 --no-trace   # RSS per reader

tracemalloc sees what Python allocates (objects, and what uvloop allocates through Python's allocator); RSS
sees everything, the kernel's socket buffers aside.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

CHILD = "--child"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def until(check: Callable[[], bool]) -> None:
    while True:
        if check():
            return
        await asyncio.sleep(0.02)


def snapshot(trace: bool) -> tracemalloc.Snapshot | None:
    if not trace:
        return None
    gc.collect()
    return tracemalloc.take_snapshot()


def masked_text(payload: bytes) -> bytes:
    """A client's text frame (masked with a zero key: the bytes stay as they are)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def open_readers(port: int, slug: str, count: int) -> list[socket.socket]:
    """``count`` websockets to /live, each subscribed to ``slug`` and its reply read."""
    subscribe = masked_text(json.dumps({"type": "subscribe", "incident": slug}).encode())
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16))
        sock.sendall(
            b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n" + subscribe
        )
        received = b""
        while b'"subscribed"' not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"closed by the node: {received!r}")
            received += chunk
        sockets.append(sock)
    return sockets


def child(port: int, slug: str, warm: int, readers: int) -> None:
    """Open the warm-up readers, say so, wait; open the measured readers, say so, wait for stdin to close."""
    held = open_readers(port, slug, warm)
    print("warm", flush=True)
    sys.stdin.readline()
    held += open_readers(port, slug, readers)
    print("connected", flush=True)
    sys.stdin.read()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from ticker.app import create_app
    from ticker.config import Settings
    from ticker.server import started, uvicorn_config
    from ticker.store.accounts import add_user, create_token

    work = Path(tempfile.mkdtemp(prefix="idle-memory-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{work / 'ticker.db'}",
        host="127.0.0.1",
        port=port,
        max_connections=args.readers + args.warm + 100,
    )
    app = create_app(settings, started=started)
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_config(settings, log_config=None, log_level="warning")))
    serving = asyncio.ensure_future(server.serve())
    await until(lambda: server.started)
    store = app.state.node.store
    token = await create_token(store, await add_user(store, "bench", "Bench", "editor"), "idle-memory")
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        made = await http.post("/api/incidents", json={"title": "Brand i hamnen"})
        slug = made.json()["incident"]["slug"]

    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, CHILD, str(port), slug, str(args.warm), str(args.readers),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    hub = app.state.node.hub
    try:
        assert (await proc.stdout.readline()).strip() == b"warm"
        await until(lambda: len(hub.readers) >= args.warm)
        await asyncio.sleep(0.5)
        if args.trace:
            tracemalloc.start(args.frames)
        before, rss_before, cpu_before = snapshot(args.trace), rss_kib(), time.process_time()
        proc.stdin.write(b"go\n")
        assert (await proc.stdout.readline()).strip() == b"connected"
        await until(lambda: len(hub.readers) >= args.warm + args.readers)
        connect_cpu = time.process_time() - cpu_before
        await asyncio.sleep(0.5)
        after, rss_after = snapshot(args.trace), rss_kib()
        tracemalloc.stop()
    finally:
        proc.stdin.close()
        await proc.wait()
        server.should_exit = True
        await serving
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "readers": args.readers,
        "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "rss_kib_per_reader": round((rss_after - rss_before) / args.readers, 2),
        # the node's CPU (user + system) from the first connect to the last reader's subscribe, per reader
        "connect_cpu_us_per_reader": round(connect_cpu * 1e6 / args.readers, 1),
    }
    if before is None or after is None:
        return {**result, "top": []}
    diff = after.compare_to(before, "traceback" if args.frames > 1 else "lineno")
    traced = sum(stat.size_diff for stat in diff)
    lines = [
        {
            "bytes_per_reader": round(stat.size_diff / args.readers, 1),
            "blocks_per_reader": round(stat.count_diff / args.readers, 2),
            "where": [f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}" for frame in stat.traceback],
        }
        for stat in diff[: args.top]
        if stat.size_diff
    ]
    return {**result, "traced_bytes_per_reader": round(traced / args.readers, 1), "top": lines}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--warm", type=int, default=200, help="readers opened before the first snapshot")
    parser.add_argument(
        "--no-trace", dest="trace", action="store_false", help="RSS only: tracemalloc's own bookkeeping inflates RSS"
    )
    parser.add_argument("--frames", type=int, default=1, help="traceback depth of each allocation")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="as ticker serve runs")
    parser.add_argument("--top", type=int, default=15, help="how many source lines to show")
    args = parser.parse_args()
    started_at = time.monotonic()
    loop_factory = None
    if importlib.util.find_spec("uvloop") and args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(main_async(args))
    result["seconds"] = round(time.monotonic() - started_at, 1)
    top = result.pop("top")
    print(json.dumps(result))
    for line in top:
        print(f"{line['bytes_per_reader']:8.1f} B {line['blocks_per_reader']:5.2f} blocks  {' < '.join(line['where'])}")


if __name__ == "__main__":
    main()
