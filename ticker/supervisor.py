"""The workers of ``ticker serve --workers N``: each listens on the port itself; started, kept, rolled, stopped.

Every worker binds host:port with its own socket and ``SO_REUSEPORT``, so the kernel hashes each new connection
(by its addresses and ports) onto one of the workers' sockets: an even spread. uvicorn's supervisor shares one
socket, and whichever worker wakes first accepts; the spread is then uneven, and with an open-file limit per
process one worker runs out of descriptors long before the others. A socket belongs to the worker that made it:
when the worker ends, the socket leaves the group and nothing more is queued for it.

The supervisor (this process) binds the port first, alone, so that a port anything else holds (another node's
workers too) is refused at once, and keeps it bound but not listening: it stays ours while workers come and go,
and ``--port 0`` is one port for all. It does no work on connections; it:

- starts ``count`` workers; a worker that dies is started again. A worker that exits with ``STARTUP_FAILURE``
  before it ever listened (its port, the database, the settings) would fail the same way again: the node stops;
- on SIGTERM or SIGINT stops every worker (each closes its readers with 1012, as one process does) and waits for
  them, killing any still running after ``stop_seconds``;
- on SIGHUP restarts the workers in turn, as a rolling deploy: a replacement is started; once it listens, the
  worker it replaces is stopped, and the next replacement starts only when that worker has exited. The stopped
  worker's readers reconnect (their close code says so) and the kernel hands them to the listening workers.
  A replacement that does not come up ends the rolling restart, and the worker it was to replace keeps running.

A connection still in a stopping worker's accept queue is reset by the kernel (unless the host sets
``net.ipv4.tcp_migrate_req``); a client retries it as any failed connect.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from ticker.logs import log_event

STARTUP_FAILURE = 3  # a worker that could not start exits with this (uvicorn's code for the same)
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's state is shared


def reserve_port(host: str, port: int) -> socket.socket:
    """The port bound by this process alone (refused if anything holds it, another node's workers included),
    then opened to the workers' ``SO_REUSEPORT`` sockets. Never listens: the kernel hands it no connection."""
    sock = _socket(host)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def worker_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on the node's port (reserved by the supervisor), not yet listening."""
    sock = _socket(host)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _socket(host: str) -> socket.socket:
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)


@dataclass(eq=False)
class Worker:
    process: BaseProcess
    ready: Connection  # the worker writes once to it when it listens
    listening: bool = False
    stop_by: float | None = None  # when told to stop: the time it is killed if still running

    def heard(self) -> None:
        """Whether it listens now, if it said so (a worker that died leaves an end-of-file instead)."""
        try:
            while self.ready.poll():
                self.ready.recv()
                self.listening = True
        except (EOFError, OSError):
            pass

    def stop(self, seconds: float) -> None:
        if self.stop_by is None:
            self.stop_by = time.monotonic() + seconds
            self.process.terminate()  # SIGTERM: the worker's graceful stop

    def reap(self) -> bool:
        """Whether it has exited (then its pipe is closed); killed once its time to stop is over."""
        if self.process.is_alive():
            if self.stop_by is not None and time.monotonic() > self.stop_by:
                log_event("worker_killed", logging.ERROR, pid=self.process.pid)
                self.process.kill()
            return False
        self.process.join()
        self.ready.close()
        return True


@dataclass(eq=False)
class Supervisor:
    """Runs ``count`` processes of ``target(ready)``; ``target`` writes to ``ready`` once it listens."""

    target: Callable[[Connection], None]
    count: int
    stop_seconds: float
    workers: list[Worker] = field(default_factory=list)
    signals: deque[int] = field(default_factory=deque)
    rolling: deque[int] = field(default_factory=deque)  # positions still to restart in the rolling restart
    replacement: Worker | None = None
    retiring: Worker | None = None

    def run(self) -> int:
        """Until SIGTERM or SIGINT (0), or until a worker could not start (``STARTUP_FAILURE``)."""
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous = {sig: signal.signal(sig, self._signalled) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        previous_fd = signal.set_wakeup_fd(wake_write.fileno())
        try:
            self.workers = [self._start() for _ in range(self.count)]
            code = None
            while code is None:
                wait([wake_read, *self._watched()], timeout=1.0)
                with contextlib.suppress(BlockingIOError):
                    while wake_read.recv(4096):  # the signals' bytes: the handlers have queued them already
                        pass
                code = self._step()
            self._stop_all()
            return code
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_read.close()
            wake_write.close()

    def _signalled(self, sig: int, _frame: object) -> None:
        self.signals.append(sig)

    def _start(self) -> Worker:
        ready, told = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(target=self.target, args=(told,), name="ticker-worker")
        process.start()
        told.close()  # the worker has its own copy
        log_event("worker_started", pid=process.pid)
        return Worker(process, ready)

    def _all(self) -> list[Worker]:
        return [w for w in (*self.workers, self.replacement, self.retiring) if w is not None]

    def _watched(self) -> list[Connection | int]:
        workers = self._all()
        return [*(w.process.sentinel for w in workers), *(w.ready for w in workers if not w.listening)]

    def _step(self) -> int | None:
        """One turn: signals, workers that listen or died, the rolling restart. An exit code ends the run."""
        while self.signals:
            sig = self.signals.popleft()
            if sig in (signal.SIGTERM, signal.SIGINT):
                log_event("workers_stopping", signal=signal.Signals(sig).name)
                return 0
            if not self.rolling:
                log_event("rolling_restart_started", workers=len(self.workers))
                self.rolling.extend(range(len(self.workers)))
        for worker in self._all():
            worker.heard()
        for position, worker in enumerate(self.workers):
            if worker.reap():
                if not worker.listening and worker.process.exitcode == STARTUP_FAILURE:
                    log_event("worker_failed_to_start", logging.ERROR, pid=worker.process.pid)
                    return STARTUP_FAILURE
                log_event("worker_died", logging.ERROR, pid=worker.process.pid, exitcode=worker.process.exitcode)
                self.workers[position] = self._start()
        self._roll()
        return None

    def _roll(self) -> None:
        if self.retiring is not None:
            if not self.retiring.reap():
                return
            log_event("worker_stopped", pid=self.retiring.process.pid, exitcode=self.retiring.process.exitcode)
            self.retiring = None
            if not self.rolling:
                log_event("rolling_restart_done", workers=len(self.workers))
        if self.replacement is None:
            if self.rolling:
                self.replacement = self._start()
            return
        if self.replacement.listening:
            position = self.rolling.popleft()
            self.retiring, self.workers[position] = self.workers[position], self.replacement
            self.replacement = None
            self.retiring.stop(self.stop_seconds)
        elif self.replacement.reap():
            log_event(
                "rolling_restart_abandoned",
                logging.ERROR,
                pid=self.replacement.process.pid,
                exitcode=self.replacement.process.exitcode,
            )
            self.replacement = None
            self.rolling.clear()

    def _stop_all(self) -> None:
        workers = self._all()
        for worker in workers:
            worker.stop(self.stop_seconds)
        while running := [w for w in workers if not w.reap()]:
            wait([w.process.sentinel for w in running], timeout=1.0)
        log_event("workers_stopped", workers=len(workers))
