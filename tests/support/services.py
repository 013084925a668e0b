"""Real services for tests: private redis-server instances and Ticker nodes run as child processes."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support.tracebacks import node_logs

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def answers_200(port: int, path: str) -> bool:
    """Whether a GET of ``path`` on 127.0.0.1:``port`` answers 200 now (a child's readiness)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under TICKER_TEST_STRICT=1 (CI must never skip silently)."""
    if os.environ.get("TICKER_TEST_STRICT") == "1":
        pytest.fail(f"{reason} (TICKER_TEST_STRICT=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (apt-get install {name})")
    return path


def asyncpg_dsn(url: str) -> str:
    """The DSN asyncpg.connect() takes for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """Create a new, uniquely named database; yield its SQLAlchemy URL; drop it, ending its connections."""
    name = f"ticker_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE terminates the connections the test left open, which would otherwise block the drop.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class ChildProcess:
    """A process that serves on a fixed port of 127.0.0.1 and can be stopped, killed and started again.

    Subclasses say what to run (`command`) and when it is up (`is_ready`). Output goes to `log_path`, which
    keeps the output of every start; with `stderr_path`, standard error goes there instead.
    """

    stop_timeout = 10.0

    def __init__(
        self,
        log_path: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 20.0,
        stderr_path: Path | None = None,
    ) -> None:
        self.log_path = log_path
        self.stderr_path = stderr_path
        self.port = free_port() if port is None else port
        self.env = dict(env or {})
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status of the last run; None while running or before the first start."""
        return None if self._process is None else self._process.poll()

    def start(self) -> Self:
        """Start on `self.port` and wait until `is_ready()`; raise with the log's tail if it isn't."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._stderr = None if self.stderr_path is None else self.stderr_path.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            cwd=self.log_path.parent,  # files a child leaves behind (ticker.db) stay in the test's directory
            env=self.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._stderr is None else self._stderr,
        )
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.running:
                self._fail(f"exited with status {self.returncode} before it was ready")
            if self.is_ready():
                return self
            if time.monotonic() > deadline:
                self._fail(f"was not ready within {self.ready_timeout:g} s")
            time.sleep(0.05)

    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `stop_timeout`; returns the exit status."""
        return self._end(signal.SIGTERM, self.stop_timeout)

    def kill(self) -> int | None:
        """SIGKILL, as a crash or `kill -9` would; returns the exit status."""
        return self._end(signal.SIGKILL, None)

    def pause(self) -> None:
        """SIGSTOP: the process stays connected but answers nothing, like a stalled network or a frozen host."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _end(self, sig: signal.Signals, timeout: float | None) -> int | None:
        if self._process is not None and self.running:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for log in (self._log, self._stderr):
            if log is not None:
                log.close()
        self._log = self._stderr = None
        return self.returncode

    def _fail(self, what: str) -> NoReturn:
        self.kill()
        tail = "\n".join(self.log_text().splitlines()[-40:])
        raise RuntimeError(f"{' '.join(self.command())} {what}; its log ({self.log_path}) ends:\n{tail}")

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} running={self.running}>"


class RedisServer(ChildProcess):
    """A private redis-server in `directory` that keeps nothing on disk unless `args` ask for it.

    `args` are added to the command line, e.g. ("--appendonly", "yes", "--appendfsync", "always").
    """

    def __init__(self, directory: Path, *args: str, port: int | None = None) -> None:
        super().__init__(directory / "redis.log", port=port, ready_timeout=10.0)
        self.directory = directory
        self.args = args

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def command(self) -> list[str]:
        private = ["--save", "", "--appendonly", "no", "--bind", HOST, "--port", str(self.port)]
        return ["redis-server", *private, "--dir", str(self.directory), *self.args]

    def is_ready(self) -> bool:
        try:
            return self.call("PING") == "+PONG"
        except OSError:
            return False

    def flushall(self) -> None:
        reply = self.call("FLUSHALL")
        if reply != "+OK":
            raise RuntimeError(f"FLUSHALL answered {reply!r}")

    def call(self, command: str) -> str:
        """Send one inline command and return the first line of the reply (enough for status replies)."""
        with socket.create_connection((HOST, self.port), timeout=2) as sock:
            sock.sendall(command.encode() + b"\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("redis-server closed the connection")
                reply += chunk
        return reply.split(b"\r\n", 1)[0].decode()


class WebService(ChildProcess):
    """A child that serves Ticker's HTTP and live websocket on its port (a node, or a balancer in front)."""

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/live"


class ServerProcess(WebService):
    """A Ticker node: `python -m ticker serve --host 127.0.0.1 --port P *args`, ready when /healthz says 200.

    Output goes to `log_dir/ticker-P.log` (standard error to `stderr_path` if given). `env` is added to this
    process's environment, from which inherited TICKER_* settings are removed so that a developer's shell cannot
    change what a test runs. `program` replaces `python -m ticker serve` (tests of this helper use a stand-in).
    """

    def __init__(
        self,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        *,
        port: int | None = None,
        program: Sequence[str] = (sys.executable, "-m", "ticker", "serve"),
        ready_timeout: float = 20.0,
        stderr_path: Path | None = None,
    ) -> None:
        port = free_port() if port is None else port
        log_path = log_dir / f"ticker-{port}.log"  # one per node: tests may run several in one tmp_path
        super().__init__(log_path, port=port, env=env, ready_timeout=ready_timeout, stderr_path=stderr_path)
        self.args = tuple(args)
        self.program = tuple(program)
        if self.program[1:] == ("-m", "ticker", "serve"):
            # Read for tracebacks when the test ends (tests/support/tracebacks.py).
            node_logs.extend(path for path in (log_path, stderr_path) if path is not None)

    def command(self) -> list[str]:
        return [*self.program, "--host", HOST, "--port", str(self.port), *self.args]

    def child_env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
        return {**inherited, "PYTHONUNBUFFERED": "1", **self.env}

    def is_ready(self) -> bool:
        return answers_200(self.port, "/healthz")
