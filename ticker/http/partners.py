"""The admin API for partners: register a site, its origins and incidents; its snippets and reader counts.

Every route needs an admin's bearer token (or an admin's newsroom session). Changes take effect on this node
at once and on the others within ``TICKER_PARTNER_CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http.auth import require
from ticker.http.json_body import Slug, Strict, parse_body
from ticker.http.node import node
from ticker.http.partnership import end_partnership, partner_snippets
from ticker.roles import Action
from ticker.store import partners as store
from ticker.store.accounts import Account
from ticker.store.audit import Actor
from ticker.textrules import Line, Name

Origin = Annotated[Line, Field(min_length=1, max_length=300)]
DAYS = 31


class PartnerIn(Strict):
    nullable = frozenset({"incidents"})  # every incident, as when left out
    name: Name
    origins: list[Origin]
    incidents: list[Slug] | None = None
    allow_subdomains: bool = False


class PartnerPatch(Strict):
    nullable = frozenset({"incidents"})  # every incident from now on
    origins: list[Origin] | None = None
    incidents: list[Slug] | None = None
    allow_subdomains: bool = False


async def require_admin(request: Request) -> Account:
    return await require(request, Action.MANAGE_PARTNERS)


def _view(request: Request, partner: store.PartnerInfo) -> dict[str, object]:
    return {**partner.view(), "readers_now": node(request).presence.counts("partners")[partner.name]}


async def list_partners(request: Request) -> Response:
    await require_admin(request)
    found = await store.partners(node(request).store)
    return JSONResponse({"partners": [_view(request, p) for p in found]})


async def add_partner(request: Request) -> Response:
    account = await require_admin(request)
    data, _raw = await parse_body(request, PartnerIn)
    svc = node(request)
    partner = await store.add_partner(
        svc.store,
        data.name,
        data.origins,
        data.incidents,
        allow_subdomains=data.allow_subdomains,
        max_origins=svc.settings.max_partner_origins,
        by=Actor.of(account),
    )
    node(request).origins.invalidate()
    return JSONResponse({"partner": _view(request, partner)}, status_code=201)


async def get_partner(request: Request) -> Response:
    await require_admin(request)
    svc = node(request)
    name = request.path_params["name"]
    partner = await store.partner_info(svc.store, name)
    days = await store.reader_days(svc.store, name, DAYS)
    return JSONResponse({"partner": _view(request, partner), "days": days})


async def change_partner(request: Request) -> Response:
    account = await require_admin(request)
    data, _raw = await parse_body(request, PartnerPatch)
    if not data.model_fields_set - {"allow_subdomains"}:
        raise Refused.invalid("body", "nothing to change: give origins and/or incidents")
    svc = node(request)
    changes = {"incidents": data.incidents} if "incidents" in data.model_fields_set else {}
    partner = await store.change_partner(
        svc.store,
        request.path_params["name"],
        origins=data.origins,
        allow_subdomains=data.allow_subdomains,
        max_origins=svc.settings.max_partner_origins,
        by=Actor.of(account),
        **changes,
    )
    node(request).origins.invalidate()
    return JSONResponse({"partner": _view(request, partner)})


async def remove_partner(request: Request) -> Response:
    """Remove a partner; its embeds' open sockets are closed with 4100 (do not reconnect), here at once and on
    the other nodes when they hear of it (ticker.notices)."""
    account = await require_admin(request)
    await end_partnership(request, request.path_params["name"], Actor.of(account))
    return Response(status_code=204)


async def partner_snippet(request: Request) -> Response:
    """The HTML the partner pastes to embed ``?incident=``."""
    await require_admin(request)
    svc = node(request)
    slug = request.query_params.get("incident")
    if not slug:
        raise Refused.invalid("incident", "incident is required: the slug of the incident to embed")
    found = await partner_snippets(svc.store, svc.settings, slug, request.path_params["name"])
    return JSONResponse({"script": found.script, "iframe": found.iframe, "resizer": found.resizer, "text": found.text})


def routes() -> list[BaseRoute]:
    one = "/api/partners/{name}"
    return [
        Route("/api/partners", list_partners, methods=["GET"]),
        Route("/api/partners", add_partner, methods=["POST"]),
        Route(one, get_partner, methods=["GET"]),
        Route(one, change_partner, methods=["PATCH"]),
        Route(one, remove_partner, methods=["DELETE"]),
        Route(one + "/snippet", partner_snippet, methods=["GET"]),
    ]
