"""Running a node: uvicorn with Ticker's websocket protocol, one process or several workers."""

from __future__ import annotations

import gc
import importlib.util
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ticker.app import create_app
from ticker.config import Settings
from ticker.config_check import check
from ticker.log_format import logging_config
from ticker.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

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


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``ticker serve --workers N``: settings come from TICKER_*, checked."""
    return create_app(check(Settings.from_env()), started=started)


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_ready`` once it listens (never when it could not bind its port)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], Awaitable[None]] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            await self.on_ready()


def serve(settings: Settings, workers: int = 1, on_ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run a node (``workers`` processes); ``on_ready`` (one process only) runs once the port is bound."""
    if workers > 1:
        if on_ready is not None:
            raise ValueError("on_ready needs a single process")
        if settings.redis_url is None:
            raise SystemExit("--workers above 1 needs a broker every worker shares: set TICKER_REDIS_URL")
        # Workers are separate processes: hand them the same settings through the environment.
        for f in fields(settings):
            value = getattr(settings, f.name)
            if value is not None:
                os.environ[f"TICKER_{f.name.upper()}"] = str(value)
        # Each worker writes its metrics where whichever is scraped adds them up (ticker.metrics). Set before
        # the workers start: prometheus-client picks its mode when a process first imports it.
        os.environ[MULTIPROC_ENV] = prepare_multiprocess_dir(os.environ.get(MULTIPROC_ENV))
        uvicorn.run("ticker.server:create_app_from_env", factory=True, workers=workers, **uvicorn_config(settings))
    else:
        server = _Server(uvicorn.Config(create_app(settings, started=started), **uvicorn_config(settings)), on_ready)
        server.run()
        if not server.started:  # as uvicorn.run: the port was taken, or the start-up failed
            raise SystemExit(3)
