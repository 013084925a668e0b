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
- on SIGHUP restarts the workers as a rolling deploy: the next generation is started one worker after another,
  each once the one before listens; then the old workers stop listening (SIGUSR1: their sockets closed, their
  readers kept) and are stopped one after another, each once the one before has exited. Their readers reconnect
  (the close code says so) and the kernel hands them to the new generation only, evenly. Were the old workers
  still listening, each would take a share of every old worker stopped before it, and the last one, with
  2.2 times its readers at 7 workers, would pass the open-file limit. A new worker that does not come up ends
  the rolling restart: the old generation keeps serving, and the new workers started so far are stopped.

A connection still in a stopping worker's accept queue is reset by the kernel (unless the host sets
``net.ipv4.tcp_migrate_req``); a client retries it as any failed connect.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
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

    def unlisten(self) -> None:
        """Its socket closed, its connections kept (SIGUSR1)."""
        if self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGUSR1)

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
                self.stop_by = math.inf  # once
            return False
        self.process.join()
        self.ready.close()
        return True


@dataclass(eq=False)
class Supervisor:
    """Runs ``count`` processes of ``target(ready)``; ``target`` writes to ``ready`` once it listens, and stops
    listening (keeping its connections) on SIGUSR1."""

    target: Callable[[Connection], None]
    count: int
    stop_seconds: float
    workers: list[Worker] = field(default_factory=list)  # the generation that serves
    signals: deque[int] = field(default_factory=deque)
    fresh: list[Worker] | None = None  # in a rolling restart: the next generation, started one after another
    retiring: deque[Worker] = field(default_factory=deque)  # the old generation, no longer listening
    leaving: list[Worker] = field(default_factory=list)  # told to stop, not yet exited
    rolling: bool = False  # from SIGHUP until the last old worker has exited

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
        return [*self.workers, *(self.fresh or ()), *self.retiring, *self.leaving]

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
                self.rolling = True
                self.fresh = [self._start()]
        for worker in self._all():
            worker.heard()
        for position, worker in enumerate(self.workers):
            if worker.reap():
                if not worker.listening and worker.process.exitcode == STARTUP_FAILURE:
                    log_event("worker_failed_to_start", logging.ERROR, pid=worker.process.pid)
                    return STARTUP_FAILURE
                log_event("worker_died", logging.ERROR, pid=worker.process.pid, exitcode=worker.process.exitcode)
                self.workers[position] = self._start()
        self.retiring = deque(_running(self.retiring))
        self.leaving = _running(self.leaving)
        self._roll()
        return None

    def _roll(self) -> None:
        """A rolling restart: the next generation started one after another, each once the one before listens;
        then the old generation stops listening, so that the readers it lets go land on the new one only (were
        the old workers still listening, the last of them would gather the readers of every one stopped before
        it, beyond the open-file limit); then the old workers stop one after another."""
        if self.fresh is not None:
            newest = self.fresh[-1]
            if newest.listening and len(self.fresh) < len(self.workers):
                self.fresh.append(self._start())
            elif newest.listening:
                for worker in self.workers:
                    if worker.listening:
                        worker.unlisten()
                        self.retiring.append(worker)
                    else:  # started again after a death, and not up yet: nobody to let go
                        self._retire(worker)
                self.workers, self.fresh = self.fresh, None
                log_event("old_workers_not_listening", workers=len(self.retiring))
            elif newest.reap():
                log_event("rolling_restart_abandoned", logging.ERROR, pid=newest.process.pid)
                for worker in self.fresh[:-1]:
                    self._retire(worker)
                self.fresh, self.rolling = None, False
        elif self.retiring and not self.leaving:
            self._retire(self.retiring.popleft())
        elif self.rolling and not self.retiring and not self.leaving:
            self.rolling = False
            log_event("rolling_restart_done", workers=len(self.workers))

    def _retire(self, worker: Worker) -> None:
        worker.stop(self.stop_seconds)
        self.leaving.append(worker)

    def _stop_all(self) -> None:
        workers = self._all()
        for worker in workers:
            worker.stop(self.stop_seconds)
        while running := [w for w in workers if not w.reap()]:
            wait([w.process.sentinel for w in running], timeout=1.0)
        log_event("workers_stopped", workers=len(workers))


def _running(workers: Iterable[Worker]) -> list[Worker]:
    """Those still running; each that has exited logged."""
    running = []
    for worker in workers:
        if worker.reap():
            log_event("worker_stopped", pid=worker.process.pid, exitcode=worker.process.exitcode)
        else:
            running.append(worker)
    return running
