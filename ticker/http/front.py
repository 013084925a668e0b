"""The front page ("Just nu": live incidents with their latest entry, the most followed, recently closed) and
search over titles and entries."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.params import flag
from ticker.http.render import cacheable, render, render_text
from ticker.node import Node
from ticker.sanitize import text_of
from ticker.store import reads
from ticker.store.tables import Incident
from ticker.tips.form import form_context

SNIPPET_CHARS = 220


async def _live(svc: Node) -> list[tuple[Incident, dict[str, Any] | None]]:
    """The front page's live incidents (at most TICKER_FRONT_INCIDENTS, the latest activity first), each with its
    newest standing entry."""
    return await reads.incidents_with_latest(svc.store, await svc.store.incidents("live", svc.settings.front_incidents))


async def front_page(request: Request) -> Response:
    svc = node(request)
    settings = svc.settings
    live = await _live(svc)
    closed = await svc.store.incidents("closed", settings.front_closed)
    counts = node(request).presence.most_followed(settings.most_followed)
    by_slug = await reads.incidents_by_slug(svc.store, [slug for slug, _n in counts])
    most = [(by_slug[slug], n) for slug, n in counts if slug in by_slug]
    response = render(
        "front.html",
        request,
        live=live,
        closed=closed,
        most=most,
        query="",
        exact=False,
        titles=False,
        refresh=settings.front_refresh_seconds,
        follow_most=settings.max_subscriptions,
        tip_form=(tip_form := await form_context(request)),
    )
    shown = [i for i, _latest in live] + closed + [i for i, _n in most]
    last = max((i.updated_at for i in shown), default=None)
    state = [(i.slug, i.seq) for i in shown] + counts
    return cacheable(request, response, "front", state, tip_form["token"], last_modified=last)


async def front_incidents(request: Request) -> Response:
    """``GET /api/front``: the front page's live incidents, each with where it is and its card, for an open front
    page to add the incidents opened since it was loaded (it asks every ``TICKER_FRONT_REFRESH_SECONDS``)."""
    svc = node(request)
    live = await _live(svc)
    found = [
        {"slug": i.slug, "seq": i.seq, "epoch": i.epoch, "card": render_text("_card.html", request, i=i, latest=latest)}
        for i, latest in live
    ]
    last = max((i.updated_at for i, _latest in live), default=None)
    state = [(i.slug, i.seq) for i, _latest in live]
    return cacheable(request, JSONResponse({"incidents": found}), "front-incidents", state, last_modified=last)


def highlight(text: str, query: str, exact: bool) -> Markup:
    """A window of ``text`` around the first hit, the hits in <mark>; everything else escaped."""
    terms = [query.strip()] if exact else query.split()
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True) if t), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, first.start() - SNIPPET_CHARS // 3) if first else 0
    window = text[start : start + SNIPPET_CHARS]
    out = [Markup("…")] if start else []
    last = 0
    for hit in pattern.finditer(window):
        out += [escape(window[last : hit.start()]), Markup("<mark>%s</mark>") % hit.group()]
        last = hit.end()
    out.append(escape(window[last:]))
    if start + SNIPPET_CHARS < len(text):
        out.append(Markup("…"))
    return Markup("").join(out)


async def search_page(request: Request) -> Response:
    svc = node(request)
    settings = svc.settings
    query = request.query_params.get("q", "").strip()
    if len(query) > settings.search_max_chars:
        raise Refused.invalid("q", f"q: at most {settings.search_max_chars} characters")
    exact, titles = flag(request.query_params, "exact"), flag(request.query_params, "title")
    hits = await reads.search(svc.store, query, exact=exact, titles_only=titles, limit=settings.search_results)
    results: list[dict[str, Any]] = [
        {
            "incident": hit.incident,
            "title": highlight(hit.incident.title, query, exact),
            "entries": [(e, highlight(text_of(e["body"]), query, exact)) for e in hit.entries],
        }
        for hit in hits
    ]
    response = render("search.html", request, query=query, exact=exact, titles=titles, results=results)
    state = [(h.incident.slug, h.incident.seq) for h in hits]
    last = max((h.incident.updated_at for h in hits), default=None)
    return cacheable(request, response, "search", query, exact, titles, state, last_modified=last)


def routes() -> list[BaseRoute]:
    return [
        Route("/", front_page, methods=["GET", "HEAD"]),
        Route("/search", search_page, methods=["GET", "HEAD"]),
        Route("/api/front", front_incidents, methods=["GET", "HEAD"]),
    ]
