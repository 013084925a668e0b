"""Rendering a template: one Jinja environment for every page, and the context every template gets (the
request's language and strings, dates and numbers in it, links that keep it, the site's name and URL). Pages are
cacheable through ``cacheable``: an ETag from what went into the page, in the request's language, naming this
release's static files."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ticker import i18n
from ticker.assets import TEMPLATES
from ticker.http import caching
from ticker.http.link_cards import register as register_link_cards
from ticker.http.node import node
from ticker.http.static import assets, static_imports, static_url
from ticker.sanitize import text_of

VARY = "Accept-Language"

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), auto_reload=False)
# JSON-LD and the strings for reader.js: compact, and readable UTF-8 (tojson still escapes < > & ').
env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "separators": (",", ":")}
env.globals["static"] = static_url  # {{ static("reader.js") }}: a file's hashed, immutable URL
env.globals["static_imports"] = static_imports  # the modules a module imports, to preload
register_link_cards(env)  # {{ entry_body(e, t) }}: an entry's body with its link cards in place

# The entry the page's <template> is rendered from: reader.js clones it and fills in a real entry.
BLANK_ENTRY: dict[str, Any] = {
    "id": 0,
    "incident": "",
    "author": "",
    "body": "",
    "label": "",
    "created_at": "",
    "edited_at": None,
    "key_event": False,
    "pinned": False,
    "retracted": False,
    "correction": None,
}


def to_datetime(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def base_url(request: Request) -> str:
    return node(request).settings.resolved_public_url()


def localized(path: str, lang: str, **query: Any) -> str:
    """``path`` with its query, keeping a non-default language in the link."""
    params = {k: v for k, v in query.items() if v not in (None, "", False)}
    if lang != i18n.DEFAULT:
        params["lang"] = lang
    return f"{path}?{urlencode(params)}" if params else path


def render(name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render_text(name, request, **context), status_code=status)


def render_text(name: str, request: Request, **context: Any) -> str:
    """A template (a page or a part of one) in the request's language, with what every template may use."""
    lang = i18n.language(request)
    strings = i18n.STRINGS[lang]
    return env.get_template(name).render(
        lang=lang,
        t=strings,
        strings=strings,
        when=lambda v: i18n.when(to_datetime(v), lang),
        clock=lambda v: i18n.clock(to_datetime(v), lang),
        number=lambda n: i18n.number(n, lang),
        href=lambda path, **query: localized(path, lang, **query),
        other_lang=localized(request.url.path, "en" if lang == "sv" else "sv", **_query_without_lang(request)),
        site_name=node(request).settings.site_name,
        base_url=base_url(request),
        text_of=text_of,
        **context,
    )


def _query_without_lang(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k != "lang"}


def page_tag(request: Request, *parts: object) -> str:
    """The ETag of a page made from ``parts``, in the request's language, naming this release's static files
    (a page kept from before a release names their old hashed URLs)."""
    return caching.etag(*parts, i18n.language(request), assets().version)


def cacheable(request: Request, response: Response, *parts: object, last_modified: datetime | None) -> Response:
    """Caching headers on a rendered page, its ETag taken from what went into it (or 304)."""
    max_age = node(request).settings.cache_max_age
    return caching.conditional(request, response, page_tag(request, *parts), last_modified, max_age, VARY)


def not_found(request: Request) -> HTMLResponse:
    return render("not_found.html", request, status=404)
