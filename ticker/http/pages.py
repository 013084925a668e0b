"""Reader pages, server-rendered: complete without JavaScript; reader.js applies live events in place."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.exceptions import NotFound
from ticker.services import services

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "web" / "templates"
PAGE_ENTRIES = 50

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), auto_reload=False)


def _parse(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def render(name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    lang = i18n.language(request)
    html = env.get_template(name).render(
        lang=lang,
        t=i18n.STRINGS[lang],
        when=lambda v: i18n.when(_parse(v), lang),
        clock=lambda v: i18n.clock(_parse(v), lang),
        site_name=services(request).settings.site_name,
        **context,
    )
    return HTMLResponse(html, status_code=status)


async def incident_page(request: Request) -> Response:
    store = services(request).store
    try:
        snapshot = await store.snapshot(request.path_params["slug"], limit=PAGE_ENTRIES)
    except NotFound:
        return render("not_found.html", request, status=404)
    entries = snapshot["entries"]
    return render(
        "incident.html",
        request,
        incident=snapshot["incident"],
        seq=snapshot["seq"],
        entries=sorted(entries, key=lambda e: not e["pinned"]),
        key_events=[e for e in entries if e["key_event"] and not e["retracted"]],
        strings=i18n.STRINGS[i18n.language(request)],
    )


def routes() -> list[BaseRoute]:
    return [Route("/i/{slug}", incident_page, methods=["GET", "HEAD"])]
