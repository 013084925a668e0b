"""Errors a person meets in a browser: a page in the reader's language, with the same status, instead of JSON.

A request that ranks HTML above JSON in its ``Accept`` header (a browser following a link or typing an address)
and is not for a machine's route gets the page; everyone else (``/api``, the live routes, ``fetch()`` and clients
that send ``*/*`` or ask for JSON) keeps the JSON body of ticker.http.errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ticker import i18n
from ticker.http.render import render

MACHINE_PATHS = ("/api/", "/sse/", "/live", "/oembed", "/healthz")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks HTML (explicitly: wildcards count for neither) at least as high as JSON."""
    best = {"html": 0.0, "json": 0.0}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        kind = "html" if media.lower() in HTML_TYPES else "json" if media.lower() == "application/json" else None
        if kind is None:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best[kind] = max(best[kind], quality)
    return best["html"] > 0 and best["html"] >= best["json"]


def wants_page(request: Request) -> bool:
    path = request.url.path
    machine = path in ("/api", "/sse") or path.startswith(MACHINE_PATHS)
    return not machine and prefers_html(request.headers.get("accept", ""))


def heading(status: int, lang: str) -> str:
    strings = i18n.STRINGS[lang]
    if f"error_{status}" in strings:
        return strings[f"error_{status}"]
    return strings["error_5xx"] if status >= 500 else strings["error_4xx"]


def error_page(request: Request, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The error page for ``status``; it varies by Accept too, since the same address answers JSON elsewhere."""
    lang = i18n.language(request)
    hint = i18n.STRINGS[lang].get(f"error_hint_{status}")  # None: the template's general hint
    response = render("error.html", request, status=status, heading=heading(status, lang), code=status, hint=hint)
    response.headers.update(headers or {})
    response.headers["Vary"] = "Accept, Accept-Language"
    response.headers["Cache-Control"] = "no-store"
    return response
