"""`ticker serve --workers 3` behind one port (issue 18): each worker listens with its own SO_REUSEPORT socket,
the kernel spreads the readers over them, and every reader gets every event once, in order, whichever worker
took the post; a rolling restart (SIGHUP) replaces every worker while readers resume and posts go on; a
worker killed outright is started again.

Which worker holds a reader is read from /proc: the server side of its connection is a socket inode in exactly
one worker's file table; so is each worker's own listening socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import pytest

from tests.support.cli import reporter_token
from tests.support.live import LiveReader
from tests.support.node import Reporter
from tests.support.services import RedisServer, ServerProcess
from tests.support.waiting import eventually
from tests.test_deploy import START_TIMEOUT, BalancedReader, post_entry, serve_pid, wait_for, worker_pids
from ticker import node as node_module
from ticker.background import Background
from ticker.node import stopped
from ticker.supervisor import SPAWN, Worker

WORKERS = 3
READERS = 45  # hashed over 3 sockets: all on two of them has a chance of 3 · (2/3)^45, about 3 · 10^-8
POSTS = 24
POSTERS = 8


def sockets_on(port: int) -> tuple[set[int], dict[int, int]]:
    """The node's sockets on ``port``: the listening ones' inodes, and each connection's (client port → inode)."""
    listening, connected = set(), {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if state == "0A":  # LISTEN
                listening.add(inode)
            elif state == "01":  # ESTABLISHED
                connected[int(remote.rsplit(":", 1)[1], 16)] = inode
    return listening, connected


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:[") : -1]))
    return inodes


async def all_listening(workers: list[int], port: int) -> None:
    """Until every worker listens on ``port`` with a socket of its own (the node answers once the first does)."""
    await eventually(lambda: len(sockets_on(port)[0]) == len(workers), timeout=START_TIMEOUT)
    listening = sockets_on(port)[0]
    assert [len(socket_inodes(pid) & listening) for pid in workers] == [1] * len(workers)


def holders(workers: list[int], port: int, client_ports: list[int]) -> dict[int, list[int]]:
    """Which worker holds each client's connection: worker pid → the client ports it holds."""
    connected = sockets_on(port)[1]
    held = {}
    for pid in workers:
        mine = socket_inodes(pid)
        held[pid] = [client for client in client_ports if connected.get(client) in mine]
    return held


def node_env(redis_server: RedisServer, postgres_url: str) -> dict[str, str]:
    return {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}


async def test_three_workers_behind_one_port_spread_readers_deliver_once_in_order_and_roll_over_without_loss(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    """One node for all three parts: a start of three workers costs seconds."""
    env = node_env(redis_server, postgres_url)
    token = reporter_token(env)
    with ServerProcess(tmp_path, env, args=("--workers", str(WORKERS)), ready_timeout=START_TIMEOUT) as node:
        supervisor = serve_pid(node.port)
        workers = worker_pids(supervisor)
        assert len(workers) == WORKERS
        await all_listening(workers, node.port)
        reporter = Reporter(node.url, token)
        http = httpx.AsyncClient(
            base_url=node.url, timeout=30, trust_env=False, headers={"Authorization": f"Bearer {token}"}
        )
        try:
            slug = await reporter.incident("Brand i hamnen")
            await spread_and_burst(node, slug, workers, reporter, http)
            await rolling_restart(node, slug, supervisor, reporter, http)
            await a_killed_worker_is_replaced(node, supervisor)
        finally:
            await http.aclose()
            await reporter.aclose()


async def spread_and_burst(
    node: ServerProcess, slug: str, workers: list[int], reporter: Reporter, http: httpx.AsyncClient
) -> None:
    """Readers land on every worker; a burst from concurrent posters (on any worker too) reaches each reader
    once, in order, through Redis."""
    readers: list[LiveReader] = []
    try:
        for _ in range(READERS):
            reader = await LiveReader.open(node.ws_url)
            await reader.subscribe(slug, since=1)
            readers.append(reader)
        held = holders(workers, node.port, [reader.ws.local_address[1] for reader in readers])
        assert all(held.values()), {pid: len(ports) for pid, ports in held.items()}  # every worker has readers
        assert sum(len(ports) for ports in held.values()) == READERS  # and each reader is on one of them

        queue = [f"Uppdatering {n}." for n in range(POSTS)]
        posted: list[int] = []

        async def poster() -> None:
            while queue:
                posted.append((await post_entry(http, slug, queue.pop(0), retries=[]))["entry"]["id"])

        await asyncio.gather(*(poster() for _ in range(POSTERS)))  # the client's pool: several connections
        final = 1 + POSTS
        stored = await reporter.state(slug)
        assert stored["seq"] == final
        for reader in readers:
            folded = await reader.follow(slug, upto=final)  # a gap or a twin fails here (Folded)
            assert [e["seq"] for e in folded.events] == list(range(2, final + 1))
            assert sorted(e["data"]["entry"]["id"] for e in folded.events) == sorted(posted)
            assert folded.entries == stored["entries"]
            assert await reader.silent()  # and nothing after the last
    finally:
        for reader in readers:
            await reader.close()


async def rolling_restart(
    node: ServerProcess, slug: str, supervisor: int, reporter: Reporter, http: httpx.AsyncClient
) -> None:
    """SIGHUP replaces every worker in turn while posts go on; readers that reconnect and resume as reader.js
    does (BalancedReader) end with every event once, in order, and no snapshot."""
    before = set(worker_pids(supervisor))
    first = (await reporter.state(slug))["seq"]
    readers = [BalancedReader(node.ws_url, slug) for _ in range(READERS)]
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    retries: list[str] = []
    try:
        await wait_for(readers, tasks, first)
        os.kill(supervisor, signal.SIGHUP)
        during = 0
        while "rolling_restart_done" not in node.log_text():
            await post_entry(http, slug, f"Under omstarten {during}.", retries)
            during += 1
            await asyncio.sleep(0.05)
        last = await post_entry(http, slug, "Efter omstarten.", retries)
        final = last["seq"]
        assert final == first + during + 1
        await wait_for(readers, tasks, final)

        after = worker_pids(supervisor)
        assert len(after) == WORKERS and not set(after) & before, (before, after)  # every worker replaced
        await all_listening(after, node.port)
        stored = await reporter.state(slug)
        for reader in readers:
            assert [e["seq"] for e in reader.folded.events] == list(range(1, final + 1))
            assert reader.folded.state() == stored
            # Its worker was stopped under it (more than once if it landed on a worker replaced later), with
            # the code that says "reconnect and resume", and it is connected again.
            assert reader.closes and set(reader.closes) == {1012}, reader.closes
            assert len(reader.upstreams) == len(reader.closes) + 1
        assert "worker_died" not in node.log_text()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def a_killed_worker_is_replaced(node: ServerProcess, supervisor: int) -> None:
    """A worker that dies (kill -9) is started again; the others run on."""
    workers = worker_pids(supervisor)
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    await eventually(lambda: len(worker_pids(supervisor)) == WORKERS and victim not in worker_pids(supervisor))
    after = worker_pids(supervisor)
    assert set(workers[1:]) <= set(after)
    await all_listening(after, node.port)
    assert "worker_died" in node.log_text()


def deaf_worker(ready: Connection) -> None:
    """A worker that ignores SIGTERM (a stop that hangs), then says it is ready."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.send(os.getpid())
    while True:
        time.sleep(1)


def test_a_worker_past_its_time_to_stop_is_killed_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """The supervisor looks at a stopping worker at every turn until it has gone; SIGKILL takes a moment, and
    each look in between must not kill (and log) it again."""
    ready, told = SPAWN.Pipe(duplex=False)
    process = SPAWN.Process(target=deaf_worker, args=(told,))
    process.start()
    told.close()
    worker = Worker(process, ready)
    assert ready.recv() == process.pid
    worker.stop(0.0)
    turns = 0
    while not worker.reap():
        turns += 1
    assert process.exitcode == -signal.SIGKILL
    killed = [r for r in caplog.records if getattr(r, "event", None) == "worker_killed"]
    assert len(killed) == 1, (len(killed), turns)


async def test_a_stopping_server_closes_every_reader_at_once_and_counts_them(tmp_path: Path, sqlite_url: str) -> None:
    """``readers_closed`` counts every reader (uvicorn told each connection to shut down in turn; the count was
    of those left when it reached its first HTTP connection, and with none there was no line at all)."""
    with ServerProcess(tmp_path, {"TICKER_DATABASE_URL": sqlite_url}) as node:
        readers = [await LiveReader.open(node.ws_url) for _ in range(READERS)]
        assert node.stop() is not None
        for reader in readers:
            await reader.ws.wait_closed()
            assert reader.ws.close_code == 1012
        closed = [line for line in node.log_text().splitlines() if '"readers_closed"' in line]
        assert len(closed) == 1 and f'"readers": {READERS}' in closed[0], closed


async def test_a_part_slow_to_stop_is_logged_with_what_every_task_awaits(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose stop hangs is killed after 60 s: before that, the log names the await that does not end."""
    caplog.set_level(logging.INFO, "ticker")
    monkeypatch.setattr(node_module, "SLOW_STOP_SECONDS", 0.01)
    release = asyncio.Event()

    async def hung_stop() -> None:
        await release.wait()

    stopping = asyncio.create_task(stopped("stuck", hung_stop))

    def slow() -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "event", None) == "part_stop_slow"]

    await eventually(lambda: bool(slow()))
    (line,) = slow()
    assert line.fields["part"] == "stuck"  # type: ignore[attr-defined]
    assert any("hung_stop" in chain and "Event.wait" in chain for chain in line.fields["tasks"])  # type: ignore[attr-defined]
    release.set()
    await stopping
    assert [r.fields["part"] for r in caplog.records if getattr(r, "event", None) == "part_stopped"] == ["stuck"]  # type: ignore[attr-defined]


async def test_a_background_task_that_loses_its_cancellation_is_cancelled_again_and_stops() -> None:
    """A worker's stop hung in its node-stats task: a cancellation lost in redis-py (asyncio.wait_for on Python
    3.11), and the task looped on. Here the task swallows its first cancellation itself."""
    lost = asyncio.Event()

    async def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        lost.set()  # and on, as the loop did
        await asyncio.sleep(3600)

    task = Background("loses-a-cancel", run)
    task.start()
    await asyncio.sleep(0)  # the task runs up to its first sleep
    async with asyncio.timeout(30) as guard:  # against a hang, not a measure: it stops after one more cancel
        await task.stop()
    assert lost.is_set() and not guard.expired()
