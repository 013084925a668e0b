"""The sources on the desk: the sources page, the "Händelser" panel's live stream, and the JSON API behind them.

Everyone logged in sees the items and the sources' status; editors dismiss, watch, or start a ticker from an
item; admins add, change and remove sources. The API takes a bearer token or the desk's session cookie (with
its CSRF token), like the reporter API.
"""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ticker.errors import Refused
from ticker.http.auth import require, require_account
from ticker.http.desk_page import desk_login, desk_page
from ticker.http.idempotency import run_write
from ticker.http.json_body import Strict, Text, Url, entry_body, now_label, parse_body
from ticker.http.node import node
from ticker.http.params import path_id
from ticker.http.session_auth import current_login, session_expired
from ticker.http.sources_text import panel_text
from ticker.live.sse import EventStream, SSESink
from ticker.roles import Action
from ticker.sources.kinds import KINDS, cited
from ticker.sources.model import Source, SourceItem
from ticker.sources.store import (
    SourceLimits,
    add_source,
    item_views,
    remove_source,
    set_state,
    source_views,
    update_source,
)
from ticker.store.accounts import Account
from ticker.store.sql import Tx, WriteOp
from ticker.store.tables import Incident
from ticker.store.writes import author_of, create_incident, post_entry
from ticker.textrules import slugify

Name = Annotated[str, Field(min_length=1, max_length=64)]
Kind = Literal["polisen", "krisinformation", "sr_vma", "feed"]
Interval = Annotated[int, Field(ge=1, le=86_400)]
Words = Annotated[list[Annotated[str, Field(min_length=1, max_length=120)]], Field(max_length=50)]


class SourceIn(Strict):
    name: Name
    kind: Kind
    url: Url
    interval_seconds: Interval = 120
    places: Words = Field(default_factory=list)
    types: Words = Field(default_factory=list)
    enabled: bool = True


class SourcePatch(Strict):
    name: Name | None = None
    kind: Kind | None = None
    url: Url | None = None
    interval_seconds: Interval | None = None
    places: Words | None = None
    types: Words | None = None
    enabled: bool | None = None


class ItemStateIn(Strict):
    state: Literal["new", "watched", "dismissed"]


class TickerFromItem(Strict):
    """A ticker started from an item: the incident's fields and its first entry, as the editor left them."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Text = ""
    category: Annotated[str, Field(max_length=60)] = ""
    location: Annotated[str, Field(max_length=120)] = ""
    entry: Annotated[str, Field(min_length=1)]
    source_url: Url | None = None


async def require_admin(request: Request) -> Account:
    return await require(request, Action.MANAGE_SOURCES)


async def require_editor(request: Request) -> Account:
    """Editors (and admins) act on items: dismiss, watch, start a ticker (ticker.roles)."""
    return await require(request, Action.ACT_ON_SOURCE_ITEMS)


# The API.


async def list_sources(request: Request) -> JSONResponse:
    await require_account(request)
    limits = SourceLimits.of(node(request).settings)
    return JSONResponse({"sources": await source_views(node(request).store, limits)})


async def post_source(request: Request) -> JSONResponse:
    await require_admin(request)
    data, _raw = await parse_body(request, SourceIn)
    view = await add_source(node(request).store, data.model_dump(), SourceLimits.of(node(request).settings))
    node(request).sources_poller.wake.set()  # asked at once when this node polls (within a moment on the one that does)
    await node(request).sources_panel.status_changed([view["id"]])
    return JSONResponse({"source": view}, status_code=201)


async def patch_source(request: Request) -> JSONResponse:
    await require_admin(request)
    data, _raw = await parse_body(request, SourcePatch)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Refused("invalid", "nothing to change", "body")
    source_id = path_id(request, "source_id")
    limits = SourceLimits.of(node(request).settings)
    view = await update_source(node(request).store, source_id, changes, limits)
    node(request).sources_poller.wake.set()
    await node(request).sources_panel.status_changed([source_id])
    return JSONResponse({"source": view})


async def delete_source(request: Request) -> Response:
    await require_admin(request)
    await remove_source(node(request).store, path_id(request, "source_id"))
    return Response(status_code=204)


async def list_items(request: Request) -> JSONResponse:
    await require_account(request)
    limit = node(request).settings.sources_panel_items
    return JSONResponse({"items": await item_views(node(request).store, limit=limit)})


async def item_state(request: Request) -> JSONResponse:
    account = await require_editor(request)
    data, _raw = await parse_body(request, ItemStateIn)
    item_id = path_id(request, "item_id")
    await set_state(node(request).store, item_id, data.state, account.display_name)
    await node(request).sources_panel.changed([item_id])
    return JSONResponse({"item": (await item_views(node(request).store, ids=[item_id]))[0]})


def ticker_from_item(item_id: int, data: TickerFromItem, body: str, label: str, account: Account) -> WriteOp:
    """One transaction: the incident, its first entry, and the item marked with the ticker it started."""

    async def op(tx: Tx) -> dict[str, Any]:
        item = await tx.session.scalar(select(SourceItem).where(SourceItem.id == item_id).with_for_update())
        if item is None:
            raise Refused.not_found("item")
        if item.incident_slug is not None:
            raise Refused.conflict(f"a ticker was started from this item already: {item.incident_slug}", "item")
        slug = await _free_slug(tx, slugify(data.title))
        fields = data.model_dump(include={"title", "summary", "category", "location"})
        created = await create_incident(slug, fields)(tx)
        posted = await post_entry(slug, author_of(account), body, label, False, False)(tx)
        item.incident_slug, item.state, item.state_by = slug, "watched", account.display_name
        item.version += 1
        return {"incident": created["incident"], "entry": posted["entry"], "seq": posted["seq"], "item": item_id}

    return op


async def _free_slug(tx: Tx, base: str) -> str:
    """The title's slug, or with the first free "-2", "-3"… (read in the transaction that takes it)."""
    taken = set(await tx.session.scalars(select(Incident.slug).where(Incident.slug.startswith(base))))
    candidates = (base, *(f"{base}-{n}" for n in range(2, len(taken) + 3)))
    return next(slug for slug in candidates if slug not in taken)


async def start_ticker(request: Request) -> JSONResponse:
    """POST /api/sources/items/{id}/ticker: 201 with the incident and its first entry."""
    account = await require_editor(request)
    data, raw = await parse_body(request, TickerFromItem)
    item_id = path_id(request, "item_id")
    svc = node(request)
    body = entry_body(data.entry, svc.settings.max_entry_chars)
    if data.source_url:
        async with svc.store.reading() as session:
            row = (
                await session.execute(select(Source.kind, Source.name).join(SourceItem).where(SourceItem.id == item_id))
            ).first()
        if row is None:
            raise Refused.not_found("item")
        name = html.escape(cited(row.kind, row.name))
        body += f'<p><a href="{html.escape(data.source_url)}" rel="nofollow noopener noreferrer">Källa: {name}</a></p>'
    label = now_label()
    response = await run_write(request, ticker_from_item(item_id, data, body, label, account), account, raw, 201)
    await node(request).sources_panel.changed([item_id])
    return response


# The desk.


async def sources_page(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    svc = node(request)
    limits = SourceLimits.of(svc.settings)
    return desk_page(
        "desk/sources.html",
        request,
        login,
        s=panel_text(request),
        sources=await source_views(svc.store, limits),
        kinds=list(KINDS.values()),
        min_interval=limits.min_interval,
        most=limits.most,
    )


class PanelStream(EventStream):
    """The panel's SSE stream: the hub's stream for one reader, which also leaves the panel when it ends."""

    def __init__(self, request: Request, sink: SSESink, reader: Any) -> None:
        svc = node(request)
        super().__init__(svc.hub, reader, sink, svc.settings.sse_heartbeat_seconds)
        self.panel = node(request).sources_panel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.panel.leave(self.reader)


async def stream(request: Request) -> Response:
    """GET /desk/sources/stream: the panel's first state, then every change (ticker.sources.panel)."""
    login = await current_login(request)
    if login is None:
        raise Refused("unauthorized", "log in to follow the sources")
    if login.expired:
        raise session_expired()
    svc = node(request)
    if svc.hub.full:
        raise Refused("full", "this node is full: try again later")
    sink = SSESink(svc.settings.send_buffer_bytes)
    reader = await node(request).sources_panel.open(sink, login.id, login.account)
    return PanelStream(request, sink, reader)


def routes() -> list[BaseRoute]:
    item = "/api/sources/items/{item_id}"
    return [
        Route("/desk/sources", sources_page, methods=["GET", "HEAD"]),
        Route("/desk/sources/stream", stream, methods=["GET"]),
        Route("/api/sources", list_sources, methods=["GET"]),
        Route("/api/sources", post_source, methods=["POST"]),
        Route("/api/sources/items", list_items, methods=["GET"]),
        Route("/api/sources/{source_id}", patch_source, methods=["PATCH"]),
        Route("/api/sources/{source_id}", delete_source, methods=["DELETE"]),
        Route(item + "/state", item_state, methods=["POST"]),
        Route(item + "/ticker", start_ticker, methods=["POST"]),
    ]
