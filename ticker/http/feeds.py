"""An Atom feed (RFC 4287) per incident: its newest standing entries, built with ElementTree so it is always
well-formed XML."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.photo_markup import photo_html
from ticker.http.render import base_url, cacheable, localized, not_found
from ticker.store import reads

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ATOM)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = text
    return element


async def incident_feed(request: Request) -> Response:
    svc = node(request)
    slug = request.path_params["slug"]
    try:
        page = await reads.incident_page(svc.store, slug, limit=svc.settings.page_entries)
    except Refused as refused:
        if refused.code != "not_found":
            raise
        return not_found(request)
    lang = i18n.language(request)
    incident = page.incident
    base = base_url(request)
    page_url = base + localized(f"/i/{slug}", lang)
    entries = [e for e in ([page.pinned] if page.pinned else []) + page.entries if not e["retracted"]]
    entries.sort(key=lambda e: e["id"], reverse=True)

    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: lang})
    _add(feed, "id", f"{base}/i/{slug}")
    _add(feed, "title", incident["title"])
    if incident["summary"]:
        _add(feed, "subtitle", incident["summary"])
    _add(feed, "updated", incident["updated_at"])
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(feed, "link", rel="self", type="application/atom+xml", href=base + localized(f"/i/{slug}/feed.atom", lang))
    _add(_add(feed, "author"), "name", svc.settings.site_name)
    _add(feed, "icon", base + "/static/logo.png")
    strings = i18n.STRINGS[lang]
    for e in entries:
        permalink = f"{base}/i/{slug}/e/{e['id']}"
        item = _add(feed, "entry")
        _add(item, "id", permalink)
        _add(item, "title", i18n.headline(e, lang))
        _add(item, "published", e["created_at"])
        _add(item, "updated", e["edited_at"] or e["created_at"])
        _add(_add(item, "author"), "name", e["author"])
        _add(item, "link", rel="alternate", type="text/html", href=permalink)
        photos = "".join(photo_html(p, base, strings["photo"]) for p in e.get("photos", ()))
        _add(item, "content", e["body"] + photos, type="html")
        for photo in e.get("photos", ()):  # a feed reader that shows no HTML may still show the pictures
            _add(item, "link", rel="enclosure", type="image/jpeg", href=base + photo["src"])
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    response = Response(body, media_type="application/atom+xml; charset=utf-8")
    return cacheable(request, response, "atom", slug, incident["epoch"], page.seq, last_modified=_moment(incident))


def _moment(incident: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(incident["updated_at"])


def routes() -> list[BaseRoute]:
    return [Route("/i/{slug}/feed.atom", incident_feed, methods=["GET", "HEAD"])]
