"""Embeds on partner sites: the embed API that embed.js reads, the iframe page, oEmbed, and the snippets.

``/api/embed/{slug}`` answers CORS only to the incident's partner origins; ``/embed/{slug}`` may be framed only
by them (CSP ``frame-ancestors`` in the pages' policy, ticker/http/headers.py). Both take the same options,
validated here once.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from html import escape
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.config import Settings
from ticker.errors import Refused
from ticker.http import page_extras, photo_markup
from ticker.http.error_pages import error_page, wants_page
from ticker.http.errors import error_response
from ticker.http.headers import page_policy
from ticker.http.node import node
from ticker.http.origins import admit, own_origin
from ticker.http.params import flag, incident_slug
from ticker.http.render import BLANK_ENTRY, env, localized, render
from ticker.store import reads
from ticker.store.partners import origin_entry
from ticker.textrules import SLUG_CHARS, whole_number

THEMES = ("auto", "light", "dark")
ACCENT = re.compile(r"^#(?:[0-9a-f]{3}){1,2}$")
OPTIONS = ("entries", "theme", "accent", "compact", "link", "lang", "key_events", "order", "partner")
ORDERS = ("newest", "oldest")
OEMBED_WIDTH, OEMBED_HEIGHT = 600, 600
INCIDENT_PATH = re.compile(f"^/(?:i|embed)/({SLUG_CHARS})/?$")


@dataclass(frozen=True)
class EmbedOptions:
    entries: int
    theme: str
    accent: str | None
    compact: bool
    link: bool
    lang: str
    key_events: bool = False  # the reader page's "Bara viktigaste": key events (and the pinned entry) only
    order: str = "newest"  # "oldest": the newest entries, oldest first, new ones at the bottom

    @classmethod
    def parse(cls, query: QueryParams, settings: Settings, default_lang: str) -> EmbedOptions:
        """The options of an embed from its query string; Invalid names the first bad one."""
        for name in query:
            if name not in OPTIONS:
                raise Refused.invalid(name, f"unknown embed option {name!r}; the options are {', '.join(OPTIONS)}")
        raw = query.get("entries", str(min(settings.embed_entries, settings.embed_max_entries)))
        entries = whole_number(raw)
        if entries is None or not 1 <= entries <= settings.embed_max_entries:
            raise Refused.invalid("entries", f"entries must be a whole number from 1 to {settings.embed_max_entries}")
        theme = query.get("theme", "auto")
        if theme not in THEMES:
            raise Refused.invalid("theme", f"theme must be one of {', '.join(THEMES)}")
        accent = query.get("accent") or None
        if accent is not None and not ACCENT.match(accent.lower()):
            raise Refused.invalid("accent", "accent must be a hex colour like #c40018 or #c01")
        lang = query.get("lang", default_lang)
        if lang not in i18n.LANGUAGES:
            raise Refused.invalid("lang", f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        compact, link = flag(query, "compact"), flag(query, "link", True)
        order = query.get("order", "newest")
        if order not in ORDERS:
            raise Refused.invalid("order", f"order must be one of {', '.join(ORDERS)}")
        key_events = flag(query, "key_events")
        return cls(entries, theme, accent and accent.lower(), compact, link, lang, key_events, order)


def _options(request: Request) -> EmbedOptions:
    return EmbedOptions.parse(request.query_params, node(request).settings, i18n.language(request))


def strings(lang: str, site_name: str) -> dict[str, str]:
    texts = i18n.STRINGS[lang]
    return {**texts, "full_story": texts["full_story"].replace("{site}", site_name)}


def embed_extras(settings: Settings, partner: str) -> dict[str, object]:
    parts = page_extras.page_parts(settings, partner=partner)
    qr = settings.resolved_public_url() + parts.qr_src if parts.qr_src else ""
    return {
        "ad_every": parts.ad_every,
        "ad_src": parts.ad_src,
        "sandbox": parts.sandbox,
        "swish_number": parts.swish_number,
        "qr_src": qr,
        "qr_size": parts.qr_size,
    }


def live_url(settings: Settings) -> str:
    base = settings.resolved_public_url()
    return ("wss://" if base.startswith("https://") else "ws://") + base.split("://", 1)[1] + "/live"


async def embed_state(request: Request) -> Response:
    """What embed.js needs to draw an incident and follow it: CORS for allowed origins only.

    Errors after the origin passed carry the CORS header too, so embed.js can tell the partner's developer.
    """
    admission = await admit(node(request).origins, request)
    try:
        slug = incident_slug(request)
        admission.check(slug)
        options = _options(request)
        page = await reads.incident_page(node(request).store, slug, limit=options.entries, key_only=options.key_events)
    except Refused as error:
        response = error_response(error)
        response.headers.update(admission.cors_headers())
        return response
    settings = node(request).settings
    texts = strings(options.lang, settings.site_name)
    template = env.get_template("_entry.html").render(e=BLANK_ENTRY, t=texts, clock=lambda _v: "", link_target="_blank")
    body = {
        "incident": page.incident,
        "seq": page.seq,
        "entries": ([page.pinned] if page.pinned else []) + page.entries,
        "url": settings.resolved_public_url() + localized(f"/i/{slug}", options.lang),
        "base": settings.resolved_public_url(),
        "live": live_url(settings),
        "options": asdict(options),
        "strings": texts,
        "template": template.strip(),
        # The ad slots and the support box, for the partners TICKER_AD_PARTNERS names only (ticker.http.ads): the
        # partner whose page this Origin is (the script embed), else the iframe embed's ?partner=.
        "extras": embed_extras(
            settings, admission.embedder.name if admission.embedder else request.query_params.get("partner", "")
        ),
    }
    return JSONResponse(body, headers={**admission.cors_headers(), "Cache-Control": "no-cache"})


async def embed_page(request: Request) -> Response:
    """The iframe embed: the same <ticker-live> element as the script embed, framed only where allowed."""
    slug = incident_slug(request)
    options = _options(request)
    svc = node(request)
    try:
        page = await reads.incident_page(svc.store, slug, limit=options.entries, key_only=options.key_events)
    except Refused as refused:
        if refused.code == "not_found":
            return render("not_found.html", request, status=404)
        if refused.code != "gone" or not wants_page(request):
            raise
        removed = error_page(request, 410)  # said inside the partner's frame, which may show it as it did the incident
        removed.headers["Content-Security-Policy"] = page_policy(
            svc.settings, await node(request).origins.frame_ancestors(slug)
        )
        return removed
    query = {k: v for k, v in request.query_params.items() if k in OPTIONS}
    response = render(
        "embed.html",
        request,
        incident=page.incident,
        entries=([page.pinned] if page.pinned else [])
        + (page.entries[::-1] if options.order == "oldest" else page.entries),
        options=options,
        attributes=query,
        link_target="_blank",
        story_url=svc.settings.resolved_public_url() + localized(f"/i/{slug}", options.lang),
        full_story=strings(options.lang, svc.settings.site_name)["full_story"],
    )
    framing = await node(request).origins.frame_ancestors(slug)  # its partners' sites, besides our own pages
    frames = page_extras.page_parts(svc.settings, partner=request.query_params.get("partner", "")).frame_src
    response.headers["Content-Security-Policy"] = page_policy(svc.settings, framing, frame_src=frames)
    response.headers["Cache-Control"] = "no-cache"
    return response


async def oembed(request: Request) -> Response:
    """oEmbed (https://oembed.com) for our incident pages: a rich type with the iframe embed."""
    settings = node(request).settings
    url = request.query_params.get("url")
    if not url:
        raise Refused.invalid("url", "url is required: the address of an incident page")
    format_ = request.query_params.get("format", "json")
    if format_ != "json":
        raise Refused("not_implemented", "only format=json is supported", "format")
    width = _dimension(request, "maxwidth", OEMBED_WIDTH)
    height = _dimension(request, "maxheight", OEMBED_HEIGHT)
    slug = incident_of(url, settings)
    if slug is None:
        raise Refused.not_found("incident page at this url")
    incident = await node(request).store.incident(slug)
    src = escape(f"{settings.resolved_public_url()}/embed/{slug}", quote=True)
    html = (
        f'<iframe src="{src}" width="{width}" height="{height}" title="{escape(incident.title, quote=True)}" '
        'loading="lazy" style="border:0;max-width:100%" data-ticker-embed></iframe>'
    )
    thumbnail = {}
    if incident.photo:  # the uploaded lead photo (a hot-linked photo_url has no known size, which oEmbed needs)
        lead = photo_markup.src_file(incident.photo)
        thumbnail = {
            "thumbnail_url": settings.resolved_public_url() + lead["url"],
            "thumbnail_width": lead["width"],
            "thumbnail_height": lead["height"],
        }
    return JSONResponse(
        {
            "version": "1.0",
            "type": "rich",
            "title": incident.title,
            "provider_name": settings.site_name,
            "provider_url": settings.resolved_public_url() + "/",
            "html": html,
            "width": width,
            "height": height,
            "cache_age": 3600,
            **thumbnail,
        }
    )


def _dimension(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    pixels = whole_number(raw)
    if pixels is None or pixels < 1:
        raise Refused.invalid(name, f"{name} must be a positive whole number of pixels")
    return min(pixels, default)


def incident_of(url: str, settings: Settings) -> str | None:
    """The slug of one of our incident (or embed) pages at ``url``; None for any other address."""
    try:
        parts = urlsplit(url.strip())
        origin = origin_entry(f"{parts.scheme}://{parts.netloc}")
    except (Refused, ValueError):
        return None
    found = INCIDENT_PATH.match(parts.path)
    return found.group(1) if found and origin == own_origin(settings) else None


def routes() -> list[BaseRoute]:
    return [
        Route("/api/embed/{slug}", embed_state, methods=["GET"]),
        Route("/embed/{slug}", embed_page, methods=["GET", "HEAD"]),
        Route("/oembed", oembed, methods=["GET"]),
    ]
