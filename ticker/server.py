"""Running a node: uvicorn with Ticker's websocket protocol, one process or several workers (ticker.supervisor)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

import uvicorn

from ticker.app import create_app
from ticker.config import Settings
from ticker.config_check import check
from ticker.live.gate import LANE_STATE, Lane
from ticker.log_format import logging_config
from ticker.logs import log_event
from ticker.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from ticker.supervisor import STARTUP_FAILURE, Supervisor, reserve_port, worker_socket

# A worker told to stop has this long to close its readers (uvicorn's graceful timeout, 10 s) and the node's
# parts; then it is killed.
STOP_SECONDS = 60.0
LISTEN_BACKLOG = 8192
HTTP_PROTOCOL = "ticker.live.handover:LiveHttpProtocol"  # plain readers first, then uvicorn's httptools protocol
WS_PROTOCOL = "ticker.live.handover:LiveHandshake"


def log_config(settings: Settings) -> dict[str, Any]:
    """Every line the node writes, uvicorn's included, in TICKER_LOG_FORMAT at TICKER_LOG_LEVEL (ticker.log_format)."""
    return logging_config(settings.log_level, settings.log_format, settings.node_name)


def trusted_proxies(settings: Settings) -> list[str]:
    return [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]


def uvicorn_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "ws": WS_PROTOCOL,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_ping_interval": settings.ping_interval,
        "ws_ping_timeout": settings.ping_timeout,
        "ws_per_message_deflate": False,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": HTTP_PROTOCOL,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
        # Connections the kernel holds for the node until it accepts them (capped by net.core.somaxconn): when a
        # worker stops, its readers come back within a second, and a full queue drops their SYNs, which the
        # clients' kernels send again only after 1, 3, 7 … s.
        "backlog": LISTEN_BACKLOG,
        "log_level": settings.log_level,
        "log_config": log_config(settings),
        "access_log": False,
        # The client's address (a tip's rate limit) comes from X-Forwarded-For only when the connection is from
        # one of TICKER_TRUSTED_PROXIES; with none, from nobody (uvicorn would otherwise believe 127.0.0.1).
        "proxy_headers": bool(trusted_proxies(settings)),
        "forwarded_allow_ips": trusted_proxies(settings) or None,
        **overrides,
    }


def started() -> None:
    """The process decisions, once the node has started."""
    gc.collect()  # then what start-up made, and still holds, lives as long as the node:
    gc.freeze()  # later collections need not walk it (a connect allocates; each collection was a walk)


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_ready`` once it listens (never when it could not bind its port)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], Awaitable[None]] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            await self.on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Every reader told to come back (1012) at once, before uvicorn tells each connection to shut down:
        so ``readers_closed`` counts them all, not those left when uvicorn's loop reached its first HTTP
        connection (ticker.live.handover.AppHttpProtocol.shutdown, which does the same for a plain uvicorn)."""
        lane: Lane | None = self.lifespan.state.get(LANE_STATE)
        if lane is not None:
            lane.stop()
        await super().shutdown(sockets)


def serve(settings: Settings, workers: int = 1, on_ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run a node (``workers`` processes); ``on_ready`` (one process only) runs once the port is bound."""
    if workers > 1:
        if on_ready is not None:
            raise ValueError("on_ready needs a single process")
        if settings.redis_url is None:
            raise SystemExit("--workers above 1 needs a broker every worker shares: set TICKER_REDIS_URL")
        serve_workers(settings, workers)
    else:
        server = _Server(uvicorn.Config(create_app(settings, started=started), **uvicorn_config(settings)), on_ready)
        server.run()
        if not server.started:  # as uvicorn.run: the port was taken, or the start-up failed
            raise SystemExit(STARTUP_FAILURE)


def serve_workers(settings: Settings, workers: int) -> None:
    """``workers`` processes on one port, each with its own socket and node (ticker.supervisor)."""
    try:
        reserved = reserve_port(settings.host, settings.port)
    except OSError as exc:
        log_event("port_unavailable", logging.ERROR, host=settings.host, port=settings.port, error=exc)
        raise SystemExit(STARTUP_FAILURE) from None
    with reserved:
        settings = settings.replace(port=reserved.getsockname()[1])  # --port 0: the one the kernel chose
        # Workers are separate processes: hand them the same settings through the environment.
        for f in fields(settings):
            value = getattr(settings, f.name)
            if value is not None:
                os.environ[f"TICKER_{f.name.upper()}"] = str(value)
        # Each worker writes its metrics where whichever is scraped adds them up (ticker.metrics). Set before
        # the workers start: prometheus-client picks its mode when a process first imports it.
        os.environ[MULTIPROC_ENV] = prepare_multiprocess_dir(os.environ.get(MULTIPROC_ENV))
        log_event("workers_starting", workers=workers, host=settings.host, port=settings.port)
        code = Supervisor(run_worker, workers, stop_seconds=STOP_SECONDS).run()
    if code:
        raise SystemExit(code)


def run_worker(ready: Connection) -> None:
    """One worker of ``serve --workers N`` (a process of its own): settings from the environment, its own socket
    on the node's port; ``ready`` is told once it listens."""
    settings = check(Settings.from_env())
    config = uvicorn.Config(create_app(settings, started=started), **uvicorn_config(settings))

    async def listening() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, unlisten)  # before the supervisor hears it listens
        ready.send(os.getpid())
        supervisor = multiprocessing.parent_process()
        if supervisor is not None:  # a supervisor killed outright (SIGKILL) leaves no worker on the port
            loop.add_reader(supervisor.sentinel, orphaned, loop, supervisor.sentinel)

    def unlisten() -> None:
        """The next generation listens (a rolling restart): new connections are theirs; ours stay until SIGTERM."""
        for listener in server.servers:
            listener.close()
        log_event("worker_not_listening", readers=len(server.server_state.connections))

    def orphaned(loop: asyncio.AbstractEventLoop, sentinel: int) -> None:
        loop.remove_reader(sentinel)
        log_event("supervisor_gone", logging.ERROR)
        server.should_exit = True

    try:
        sock = worker_socket(settings.host, settings.port)
    except OSError as exc:
        log_event("port_unavailable", logging.ERROR, host=settings.host, port=settings.port, error=exc)
        raise SystemExit(STARTUP_FAILURE) from None
    server = _Server(config, listening)
    server.run([sock])  # listens once the node has started; closed when the server stops
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
