"""Probes for an orchestrator: /livez (the process answers) and /readyz (it can serve: SQL and Redis answer).

``/livez`` depends on nothing outside the process, so a Redis or database outage never makes every node look
dead at once (a Kubernetes liveness probe would restart them all, and their readers with them). ``/readyz``
asks each dependency now, within TICKER_READY_TIMEOUT_SECONDS, and says which one failed: a balancer stops
sending new requests to the node until it is back. ``/healthz`` keeps the node's counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ticker.http.node import node
from ticker.store.sql import Store

NO_STORE = {"Cache-Control": "no-store"}  # a probe's answer is about now


class Live(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    ok: bool
    error: str | None = None  # the kind of failure (the node's log has the details)


class Ready(BaseModel):
    status: Literal["ready", "unready", "stopping"]
    checks: dict[str, Check]  # database, and broker when TICKER_REDIS_URL is set


async def healthz(request: Request) -> JSONResponse:
    svc = node(request)
    body: dict[str, Any] = {
        "broker": svc.broker.describe(),
        "listening": svc.hub.listening,
        "relay_healthy": svc.relay.healthy,
        "published": svc.relay.published,
        **svc.hub.stats(),
        "sockets_opened": dict(svc.lane.opened),
    }
    healthy = svc.hub.listening and svc.relay.healthy
    return JSONResponse({"status": "ok" if healthy else "degraded", **body}, status_code=200 if healthy else 503)


async def livez(request: Request) -> JSONResponse:
    return JSONResponse(Live(status="ok").model_dump(), headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    svc = node(request)
    timeout = svc.settings.ready_timeout_seconds
    checks = {"database": await _check(_database(svc.store), timeout)}
    if svc.settings.redis_url is not None:
        checks["broker"] = await _check(svc.broker.ping(), timeout)
    stopping = svc.lane.stopping
    ready = not stopping and all(check.ok for check in checks.values())
    status = "ready" if ready else "stopping" if stopping else "unready"
    body = Ready(status=status, checks=checks)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ready else 503, headers=NO_STORE)


async def _database(store: Store) -> None:
    async with store.reading() as session:
        await session.execute(text("SELECT 1"))


async def _check(answer: Awaitable[None], timeout: float) -> Check:
    try:
        await asyncio.wait_for(answer, timeout)
    except TimeoutError:
        return Check(ok=False, error=f"no answer within {timeout:g} s")
    except Exception as exc:  # whatever the driver raises when its server is away: the probe says so
        return Check(ok=False, error=type(exc).__name__)
    return Check(ok=True)


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz), Route("/livez", livez), Route("/readyz", readyz)]
