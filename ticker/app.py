"""The app: its routes, its middleware, and a lifespan that runs the node (ticker.node, which builds the parts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Mount, WebSocketRoute

from ticker.broker import Broker
from ticker.config import Settings
from ticker.errors import Refused
from ticker.http import (
    admin,
    ads,
    api,
    desk,
    embed,
    feeds,
    front,
    health,
    login,
    openapi,
    pages,
    partners,
    photos,
    push_desk,
    request_id,
    review,
    sources,
    sse,
    tips,
    transfer,
)
from ticker.http import metrics as metrics_endpoint
from ticker.http import push as push_routes
from ticker.http import status as status_page
from ticker.http.compression import Compression
from ticker.http.errors import client_gone, http_error, refused_error
from ticker.http.headers import SecurityHeaders
from ticker.http.limits import BodyLimit, UrlText
from ticker.http.live import live
from ticker.http.metrics import RequestMetrics
from ticker.http.static import Static
from ticker.live.gate import LANE_STATE, Lane
from ticker.metrics import Metrics
from ticker.node import Node
from ticker.store.sql import Store


def create_app(
    settings: Settings | None = None,
    *,
    broker: Broker | None = None,
    store: Store | None = None,
    started: Callable[[], None] = lambda: None,
) -> Starlette:
    """The app; ``started`` runs once its node has started (ticker.server's process decisions)."""
    settings = settings or Settings.from_env()
    metrics = Metrics()  # before the lifespan: the HTTP middleware counts into it

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Lane]]:
        app.state.node = node = Node(settings, metrics, broker=broker, store=store)
        async with node.running():
            started()
            yield {LANE_STATE: node.lane}  # lifespan state: uvicorn gives it to the direct hand-over

    routes: list[BaseRoute] = [
        *health.routes(),  # /healthz, /livez, /readyz
        WebSocketRoute("/live", live),
        *api.routes(),
        *photos.routes(),  # POST /api/photos, GET /media/{name}
        *review.routes(),
        *login.routes(),
        *desk.routes(),
        *admin.routes(),  # /desk/users, /desk/partners, /desk/audit, /reset/{token}
        *sources.routes(),
        *status_page.routes(),  # /desk/status
        *push_routes.routes(),  # Web Push: /api/push/…, /sw.js, /push/unsubscribe/… (ticker.push)
        *push_desk.routes(),  # /desk/i/{slug}/alert: an editor's urgent alert
        *pages.routes(),
        *ads.routes(),  # /support/swish.svg
        *tips.routes(),  # the readers' tip form's POST and deletion, the desk's /api/tips
        *front.routes(),
        *feeds.routes(),
        *sse.routes(),
        *embed.routes(),
        *partners.routes(),
        *transfer.routes(),  # export, import, delete (a takedown)
        *openapi.routes(),
        *metrics_endpoint.routes(),  # /metrics
        Mount("/static", Static(settings), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[  # the first is the outermost: a 413 from BodyLimit gets the security headers too
            Middleware(RequestMetrics, metrics=metrics),  # outermost: it sees every answer's final status
            *request_id.middleware(settings),  # X-Request-ID on every answer; the access log (TICKER_ACCESS_LOG)
            Middleware(SecurityHeaders, settings=settings),
            Middleware(
                Compression,
                minimum_size=settings.compress_min_bytes,
                brotli_quality=settings.compress_brotli_quality,
                gzip_level=settings.compress_gzip_level,
            ),
            Middleware(
                BodyLimit,
                max_bytes=settings.max_body_bytes,
                larger={
                    transfer.IMPORT_PATH: settings.import_max_bytes,  # an incident's file
                    photos.UPLOAD_PATH: photos.body_limit(settings),  # a photo and its texts
                },
            ),
            Middleware(UrlText),  # no control characters in a path or query (422)
        ],
        exception_handlers={Refused: refused_error, HTTPException: http_error, ClientDisconnect: client_gone},
    )
