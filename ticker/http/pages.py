"""Reader pages, server-rendered: complete without JavaScript; reader.js applies live events in place.

Every page is cacheable for ``cache_max_age`` seconds (ETag, Last-Modified): the incident page embeds the seq
it shows, and the script resumes from there, so a copy from a CDN is only ever a short catch-up behind.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.errors import Refused
from ticker.http import caching, page_extras
from ticker.http.headers import page_policy
from ticker.http.jsonld import live_blog
from ticker.http.node import node
from ticker.http.params import path_id, query_number
from ticker.http.reader_views import ReaderView
from ticker.http.render import (
    BLANK_ENTRY,
    VARY,
    base_url,
    cacheable,
    localized,
    not_found,
    page_tag,
    render,
    to_datetime,
)
from ticker.store import reads
from ticker.tips.form import form_context


async def incident_page(request: Request) -> Response:
    svc = node(request)
    slug = request.path_params["slug"]
    view = ReaderView.parse(request.query_params)
    wrong = "before" if view.oldest_first else "after"
    if wrong in request.query_params:
        raise Refused.invalid(wrong, f"this view pages with {view.cursor}=, not {wrong}=")
    cursor = query_number(request, view.cursor)
    try:
        incident = await svc.store.incident(slug)
    except Refused as refused:
        if refused.code != "not_found":
            raise
        return not_found(request)
    extras = page_extras.page_parts(svc.settings)
    tip_form = await form_context(request)
    tag = page_tag(request, slug, incident.epoch, incident.seq, cursor, view, *extras.tag, tip_form["token"])
    if caching.is_fresh(request, tag, incident.updated_at):  # before reading a single entry
        return caching.not_modified(tag, incident.updated_at, svc.settings.cache_max_age, VARY)
    lang = i18n.language(request)
    page = await reads.incident_page(
        svc.store,
        slug,
        limit=svc.settings.page_entries,
        before=None if view.oldest_first else cursor,
        after=cursor if view.oldest_first else None,
        key_only=view.key_only,
        oldest_first=view.oldest_first,
    )
    standing = [e for e in page.entries if not e["withdrawn"]]
    url = base_url(request) + localized(f"/i/{slug}", lang)
    shown = [page.pinned, *page.entries] if page.pinned else page.entries
    response = render(
        "incident.html",
        request,
        incident=page.incident,
        seq=page.seq,
        entries=standing,
        pinned=page.pinned,
        key_events=page.key_events,
        shown_ids={e["id"] for e in shown},
        next=page.next,
        window=cursor is not None,
        view=view,
        more_query={**view.query, view.cursor: page.next},
        extras=extras,
        tip_form=tip_form,
        page_size=svc.settings.page_entries,
        viewers=node(request).presence.count(slug),
        canonical=url,
        blank_entry=BLANK_ENTRY,
        jsonld=live_blog(
            page.incident,
            shown,
            url=url,
            base_url=base_url(request),
            site_name=svc.settings.site_name,
            lang=lang,
        ),
    )
    if extras.frame_src:  # the ad slots' server, framed: only on the pages that show them
        response.headers["Content-Security-Policy"] = page_policy(svc.settings, frame_src=extras.frame_src)
    modified = to_datetime(page.incident["updated_at"])
    return cacheable(
        request,
        response,
        slug,
        page.incident["epoch"],
        page.seq,
        cursor,
        view,
        *extras.tag,
        tip_form["token"],
        last_modified=modified,
    )


async def entry_page(request: Request) -> Response:
    """An entry's permalink: the entry on its own, with the way to the live page."""
    svc = node(request)
    try:
        incident, entry = await reads.entry(svc.store, request.path_params["slug"], path_id(request, "entry_id"))
    except Refused as refused:
        if refused.code != "not_found":
            raise
        return not_found(request)
    if entry["withdrawn"]:
        return not_found(request)
    lang = i18n.language(request)
    response = render(
        "entry.html",
        request,
        incident=incident,
        e=entry,
        canonical=base_url(request) + localized(f"/i/{incident.slug}/e/{entry['id']}", lang),
    )
    last = to_datetime(entry["edited_at"] or entry["created_at"])
    return cacheable(request, response, incident.slug, entry, last_modified=last)


async def viewers(request: Request) -> Response:
    """How many follow an incident now, across every node (reader.js refreshes the page's figure)."""
    slug = request.path_params["slug"]
    if slug not in node(request).hub.topics:  # followed here: it exists
        await node(request).store.position(slug)  # 404 for an unknown incident
    count = node(request).presence.count(slug)
    max_age = node(request).settings.cache_max_age
    return JSONResponse({"incident": slug, "viewers": count}, headers={"Cache-Control": f"public, max-age={max_age}"})


def routes() -> list[BaseRoute]:
    return [
        Route("/i/{slug}", incident_page, methods=["GET", "HEAD"]),
        Route("/i/{slug}/e/{entry_id}", entry_page, methods=["GET", "HEAD"]),
        Route("/i/{slug}/viewers", viewers, methods=["GET"]),
    ]
