"""GET /metrics for Prometheus, behind a bearer token, and the HTTP requests it counts (docs/deploy.md, "Metrics").

/metrics answers only with ``Authorization: Bearer <TICKER_METRICS_TOKEN>``: 404 while no token is set (the
endpoint is off), 401 for a missing or wrong one. The figures are those of ticker.metrics.
"""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticker.errors import Refused
from ticker.http.node import node
from ticker.metrics import Metrics
from ticker.node_stats import relay_lag

EVENT_STREAM = b"text/event-stream"
# The text format every Prometheus 2.x reads (prometheus-client's newest, 1.0.0, is the same text for our names).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


async def scrape(request: Request) -> Response:
    token = node(request).settings.metrics_token
    if not token:
        raise Refused.not_found("metrics (set TICKER_METRICS_TOKEN to turn them on)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Refused("unauthorized", "/metrics needs Authorization: Bearer <the token>", "Authorization")
    try:
        lag: float | None = await relay_lag(node(request).store)
    except Exception:  # the database is away: the scrape still answers, without this one figure
        lag = None
    return Response(node(request).metrics.exposition(lag), media_type=TEXT_FORMAT)


def routes() -> list[BaseRoute]:
    return [Route("/metrics", scrape, methods=["GET"])]


class RequestMetrics:
    """Counts each HTTP request by route (its template, not its path), method and status, with its duration.

    A pure ASGI middleware: it reads the response's start and end as they pass. An event stream is counted as it
    starts, its duration taken at its first byte (the stream itself lasts as long as its reader stays).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes the app is answered 500 by starlette's outermost middleware
        counted = False

        def count() -> None:
            nonlocal counted
            counted = True
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request(route, scope["method"], status, time.perf_counter() - started)

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                if any(k.lower() == b"content-type" and v.startswith(EVENT_STREAM) for k, v in headers):
                    count()  # a stream is counted as it starts: it lasts as long as its reader stays
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if not counted:
                count()
