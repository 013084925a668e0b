"""The composition root: wires the store, broker, hub and relay, and the routes over them."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from ticker.broker import Broker, broker_for
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
from ticker.http.link_cards import start as start_link_cards
from ticker.http.live import lane, live
from ticker.http.metrics import RequestMetrics
from ticker.http.origins import OriginPolicy
from ticker.http.static import Static
from ticker.live.gate import LANE_STATE, Lane
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.media.photos import Photos
from ticker.media.storage import storage_for
from ticker.metrics import Metrics
from ticker.node_stats import NodeFigures, Nodes, read_figures
from ticker.notices import Notices
from ticker.partner_readers import PartnerReaders
from ticker.presence import Presence
from ticker.push.sender import Sender as PushSender
from ticker.relay import Relay
from ticker.services import Services, services
from ticker.sources.panel import Panel
from ticker.sources.poller import Poller
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.takedown import listen as forget_deleted_incidents
from ticker.tips.queue import TipQueue


async def healthz(request: Request) -> JSONResponse:
    svc = services(request)
    body: dict[str, Any] = {
        "broker": svc.broker.describe(),
        "listening": svc.hub.listening,
        "relay_healthy": svc.relay.healthy,
        "published": svc.relay.published,
        **svc.hub.stats(),
        "sockets_opened": dict(lane(request).opened),
    }
    healthy = svc.hub.listening and svc.relay.healthy
    return JSONResponse({"status": "ok" if healthy else "degraded", **body}, status_code=200 if healthy else 503)


async def _janitor(store: Store, ttl_seconds: int) -> None:
    while True:
        try:
            removed = await store.expire_idempotency_keys(ttl_seconds)
            if removed:
                log_event("idempotency_keys_expired", removed=removed)
        except Exception as exc:  # the store may be briefly away; try again next round
            log_event("janitor_failed", logging.WARNING, error=repr(exc))
        await asyncio.sleep(min(3600, max(1, ttl_seconds // 4)))


def create_app(
    settings: Settings | None = None, *, broker: Broker | None = None, store: Store | None = None
) -> Starlette:
    settings = settings or Settings.from_env()
    metrics = Metrics()  # before the lifespan: the HTTP middleware counts into it

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Lane]]:
        if settings.auto_migrate:
            await upgrade(settings.database_url)
        node_store = store or Store(settings.database_url)
        node_broker = broker or broker_for(
            settings.redis_url, history=settings.broker_history, timeout=settings.redis_timeout_seconds
        )
        hub = Hub(settings, node_broker, node_store)
        relay = Relay(node_store, node_broker, sweep_seconds=settings.relay_sweep_seconds, batch=settings.relay_batch)
        app.state.services = Services(settings, node_store, node_broker, hub, relay)
        # Photos: the pipeline's workers and the files' storage (ticker.media; docs/design.md, "Photos").
        app.state.photos = node_photos = Photos(settings, node_store, storage_for(settings.media_dir, node_store))
        hub.start()
        relay.start()
        app.state.presence = presence = Presence(settings, hub)
        presence.start()
        app.state.origins = origins = OriginPolicy(settings, node_store)
        app.state.notices = notices = Notices(
            settings.redis_url, hub, origins.invalidate, block_seconds=settings.broker_block_seconds
        )
        forget_deleted_incidents(notices, hub)  # a takedown on another node (ticker.takedown)
        notices.start()
        app.state.sources_panel = sources_panel = Panel(settings, node_store, hub, notices)
        app.state.tips = tip_queue = TipQueue(settings, node_store, sources_panel, notices)  # on the panel's stream
        tip_queue.start()  # its janitor: tips older than TICKER_TIPS_KEEP_DAYS go
        app.state.sources_poller = sources_poller = Poller(settings, node_store, sources_panel)
        sources_poller.start()
        app.state.link_cards = link_cards = start_link_cards(settings, node_photos)  # ticker.media.cards
        app.state.push_sender = push_sender = PushSender(
            settings,
            node_store,
            on_outcome=lambda outcome: metrics.push_sends.labels(outcome).inc(),
            on_alert=lambda state: metrics.push_alerts.labels(state).inc(),
        )
        push_sender.start()  # Web Push alerts (ticker.push)
        app.state.partner_readers = readers = PartnerReaders(
            node_store, hub, settings.partner_counts_flush_seconds, lambda: presence.counts("partners")
        )
        readers.start()
        app.state.live_lane = live_lane = Lane(settings, hub, origins, readers)

        def figures() -> NodeFigures:
            return read_figures(hub, relay, node_store, live_lane.opened)

        app.state.metrics = metrics
        hub.on_fanout = metrics.fanout.observe
        relay.on_published = metrics.commit_to_broker.observe
        metrics.attach(figures, settings.metrics_sync_seconds)
        app.state.nodes = nodes = Nodes(settings, figures, node_store)
        nodes.start()
        janitor = asyncio.get_running_loop().create_task(_janitor(node_store, settings.idempotency_ttl_seconds))
        gc.collect()  # then what start-up made, and still holds, lives as long as the node:
        gc.freeze()  # later collections need not walk it (a connect allocates; each collection was a walk)
        log_event(
            "node_started",
            broker=node_broker.describe(),
            database=node_store.write_engine.url.get_backend_name(),
        )
        try:
            yield {LANE_STATE: live_lane}  # lifespan state: uvicorn gives it to ticker.live.handover
        finally:
            janitor.cancel()
            await nodes.stop()
            await metrics.detach()
            await sources_poller.stop()
            await link_cards.aclose()
            await push_sender.stop()
            await tip_queue.stop()
            await sources_panel.stop()
            await notices.stop()
            await presence.stop()
            await readers.stop()
            await relay.stop()
            await hub.stop()
            node_photos.close()
            if broker is None:
                await node_broker.close()
            if store is None:
                await node_store.close()
            log_event("node_stopped")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        *health.routes(),  # /livez, /readyz
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


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``ticker serve --workers N``: settings come from TICKER_*, checked."""
    from ticker.config_check import check

    return create_app(check(Settings.from_env()))
