"""Web Push over HTTP: the VAPID key, following and unfollowing an incident, the reader's service worker, the
unsubscribe page, editors' urgent alerts and what the desk shows (ticker.push; docs/reader.md, "Bevaka").

Nothing here needs an account or sets a cookie, except the editors' operations: a reader's browser proves nothing
but holding its subscription, and the unsubscribe token it was given is the only key to removing it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.assets import STATIC
from ticker.errors import Refused
from ticker.http.auth import require, require_account
from ticker.http.json_body import Strict, parse_body
from ticker.http.node import node
from ticker.http.render import render
from ticker.push import alerts
from ticker.push.keys import load_or_create
from ticker.push.subscriptions import PushRules, checked, subscribe, subscribed_incident, unsubscribe
from ticker.push.text import text
from ticker.roles import Action
from ticker.textrules import MAX_INT, Line

TOKEN = re.compile(r"^ps_[A-Za-z0-9_-]{32}$")
SERVICE_WORKER = "reader-sw.js"


class PushKeysIn(Strict):
    p256dh: Annotated[Line, Field(min_length=1, max_length=100)]
    auth: Annotated[Line, Field(min_length=1, max_length=40)]


class SubscriptionIn(Strict):
    """A browser's PushSubscription as ``subscription.toJSON()`` gives it, and the reader's language."""

    nullable = frozenset({"expirationTime"})  # browsers send null: the subscription does not expire
    endpoint: Annotated[Line, Field(min_length=1, max_length=1024, pattern=r"^https?://\S+$")]
    expirationTime: int | float | None = None  # the browser's own name; kept for nothing
    keys: PushKeysIn
    lang: Literal["sv", "en"] = "sv"


class UrgentIn(Strict):
    entry: Annotated[int, Field(ge=0, le=MAX_INT)]


def unsubscribe_url(request: Request, token: str) -> str:
    return f"{node(request).settings.resolved_public_url()}/push/unsubscribe/{token}"


async def public_key(request: Request) -> JSONResponse:
    """The applicationServerKey a page gives pushManager.subscribe; the same from every node, for good."""
    keys = await load_or_create(node(request).store)
    return JSONResponse({"public_key": keys.public_key}, headers={"Cache-Control": "public, max-age=3600"})


async def follow(request: Request) -> JSONResponse:
    svc = node(request)
    slug = request.path_params["slug"]
    data, _raw = await parse_body(request, SubscriptionIn)
    rules = PushRules.of(svc.settings)
    new = checked(data.endpoint, data.keys.p256dh, data.keys.auth, rules, data.lang)
    token = await subscribe(svc.store, slug, new, rules.max_subscriptions)
    node(request).metrics.push_subscribed.inc()
    body = {"incident": slug, "token": token, "unsubscribe": unsubscribe_url(request, token)}
    return JSONResponse({"subscription": body}, status_code=201, headers={"Cache-Control": "no-store"})


async def unfollow(request: Request) -> Response:
    token = request.path_params["token"]
    if not TOKEN.match(token) or await unsubscribe(node(request).store, token) is None:
        raise Refused.not_found("subscription")
    return Response(status_code=204)


async def following(request: Request) -> JSONResponse:
    """Whether the token's subscription is still kept (the page asks, since an alert's link may have ended it)."""
    token = request.path_params["token"]
    incident = await subscribed_incident(node(request).store, token) if TOKEN.match(token) else None
    if incident is None:
        raise Refused.not_found("subscription")
    return JSONResponse({"subscription": {"incident": incident.slug}}, headers={"Cache-Control": "no-store"})


async def alert_summary(request: Request) -> JSONResponse:
    await require_account(request)
    svc = node(request)
    incident = await svc.store.incident(request.path_params["slug"])
    found = await alerts.summary(svc.store, incident.id)
    body = {
        "followers": found.followers,
        "sent": found.sent,
        "held": found.held,
        "alerts_per_hour": svc.settings.push_alerts_per_hour,
        "alerts": found.alerts,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def send_urgent(request: Request) -> JSONResponse:
    account = await require(request, Action.SEND_URGENT_ALERT)
    data, _raw = await parse_body(request, UrgentIn)
    svc = node(request)
    alert = await alerts.send_urgent(svc.store, request.path_params["slug"], data.entry, account.display_name)
    node(request).push_sender.notify()
    return JSONResponse({"alert": alert}, status_code=201)


async def service_worker(request: Request) -> Response:
    """The reader's service worker, at the root so that it may be registered for /i/ (no Service-Worker-Allowed
    header needed); it keeps no pages, it only shows alerts."""
    return FileResponse(STATIC / SERVICE_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


async def unsubscribe_page(request: Request) -> Response:
    """GET asks (a link opened by a mail scanner or a prefetch changes nothing); POST removes."""
    store = node(request).store
    token = request.path_params["token"]
    incident = await subscribed_incident(store, token) if TOKEN.match(token) else None
    done = None
    if request.method == "POST" and incident is not None:
        await unsubscribe(store, token)
        done = incident
    return render(
        "push_unsubscribe.html",
        request,
        status=200 if incident is not None else 404,
        p=text(i18n.language(request)),
        incident=incident,
        done=done,
        token=token,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/api/push/key", public_key, methods=["GET"]),
        Route("/api/incidents/{slug}/subscriptions", follow, methods=["POST"]),
        Route("/api/push/subscriptions/{token}", following, methods=["GET"]),
        Route("/api/push/subscriptions/{token}", unfollow, methods=["DELETE"]),
        Route("/api/incidents/{slug}/alerts", alert_summary, methods=["GET"]),
        Route("/api/incidents/{slug}/alerts", send_urgent, methods=["POST"]),
        Route("/sw.js", service_worker, methods=["GET"]),
        Route("/push/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"]),
    ]
