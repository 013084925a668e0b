"""The newsroom's pages: the incident list, an incident's desk (composer, live feed, review queue) and API
tokens (the admin pages are ticker.http.admin's). Every page needs a login; its forms and newsroom.js's requests
carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.assets import STATIC
from ticker.config import Settings
from ticker.errors import Refused
from ticker.http.desk_page import checked_form, desk_login, desk_page
from ticker.http.desk_text import render_desk
from ticker.http.node import node
from ticker.http.params import form_text
from ticker.http.session_auth import require_login
from ticker.http.sources_text import panel_text
from ticker.push import alerts
from ticker.push.text import text
from ticker.roles import Action, allowed
from ticker.store.accounts import Account, create_token, revoke_token, tokens
from ticker.store.newsroom import entries_by, submissions
from ticker.textrules import Kind, whole_number

DESK_ENTRIES = 100  # newest entries on an incident's desk; the reader page has the rest


async def index(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    store = node(request).store
    live, closed = await store.incidents("live"), await store.incidents("closed")
    limits = photo_limits(node(request).settings)  # the new incident's lead photo
    text = panel_text(request)
    return desk_page("desk/index.html", request, login, live=live, closed=closed, s=text, photo_limits=limits)


async def _queue(request: Request, account: Account, slug: str) -> dict[str, Any]:
    """What the desk needs beside the public state: the viewer's own entries and the review queue."""
    store = node(request).store
    incident = await store.incident(slug)
    reviewer = account.may(Action.REVIEW_SUBMISSIONS)
    return {
        "mine": await entries_by(store, incident, account.id),
        "submissions": await submissions(store, incident, author_id=None if reviewer else account.id),
    }


def photo_limits(settings: Settings) -> dict[str, int]:
    """The photo limits the desk checks before it sends (the server checks them all again)."""
    return {
        "long_side": settings.photo_client_long_side,
        "max_bytes": settings.photo_max_bytes,
        "max_per_entry": settings.photo_max_per_entry,
        "text_max_chars": settings.photo_text_max_chars,
    }


async def incident_desk(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    slug, account = request.path_params["slug"], login.account
    try:
        snapshot = await node(request).store.snapshot(slug, limit=DESK_ENTRIES)
    except Refused as refused:
        if refused.code != "not_found":
            raise
        return render_desk("not_found.html", request, status=404)
    state = {
        **snapshot,
        **await _queue(request, account, slug),
        "me": {"id": account.id, "name": account.display_name, "role": account.role},
        "may": allowed(account.role),  # newsroom.js shows only these controls
        "csrf": login.csrf_token,
        "max_chars": node(request).settings.max_entry_chars,
        "photo": photo_limits(node(request).settings),  # newsroom.js scales and checks photos by these
    }
    push = await desk_panel(request, slug)  # followers and alerts (ticker.push)
    return desk_page("desk/incident.html", request, login, incident=snapshot["incident"], state=state, push=push)


async def desk_state(request: Request) -> JSONResponse:
    """The desk's refresh: its queue, and the CSRF token (a new one after logging in again in another tab)."""
    login = await require_login(request)
    queue = await _queue(request, login.account, request.path_params["slug"])
    return JSONResponse({**queue, "csrf": login.csrf_token})


async def tokens_page(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    return desk_page("desk/tokens.html", request, login, tokens=await tokens(node(request).store, login.account))


async def token_create(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    form = await checked_form(request, login)
    store = node(request).store
    new = await create_token(store, login.account, form_text(form, "label", Kind.NAME).strip()[:120])
    found = await tokens(store, login.account)
    return desk_page("desk/tokens.html", request, login, status=201, tokens=found, new_token=new)


async def token_revoke(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    await checked_form(request, login)
    token_id = whole_number(request.path_params["token_id"])
    if token_id is None:
        raise Refused.not_found("token")
    await revoke_token(node(request).store, login.account, token_id)
    return RedirectResponse("/desk/tokens", status_code=303)


async def service_worker(request: Request) -> Response:
    """Served from /desk/ so that it may keep the desk's pages for field mode (see newsroom-sw.js)."""
    return FileResponse(STATIC / "newsroom-sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


async def desk_panel(request: Request, slug: str) -> dict[str, Any]:
    """The desk's push panel for an incident: its followers, its alerts and the entries an editor may send."""
    svc = node(request)
    incident = await svc.store.incident(slug)
    found = await alerts.summary(svc.store, incident.id)
    entries = [e for e in await svc.store.entries(incident, limit=20) if not e.retracted]
    return {
        "t": text(i18n.language(request)),
        "summary": found,
        "limit": svc.settings.push_alerts_per_hour,
        "entries": [{"id": e.id, "label": e.label, "text": alerts.notification_text(e)} for e in entries],
    }


def routes() -> list[BaseRoute]:
    return [
        Route("/desk", index, methods=["GET", "HEAD"]),
        Route("/desk/sw.js", service_worker, methods=["GET"]),
        Route("/desk/i/{slug}", incident_desk, methods=["GET", "HEAD"]),
        Route("/desk/i/{slug}/state", desk_state, methods=["GET"]),
        Route("/desk/tokens", tokens_page, methods=["GET", "HEAD"]),
        Route("/desk/tokens", token_create, methods=["POST"]),
        Route("/desk/tokens/{token_id}/revoke", token_revoke, methods=["POST"]),
    ]
