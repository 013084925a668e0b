"""Security headers on every HTTP response (docs/deploy.md, "Security headers").

Every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``, and
``Strict-Transport-Security`` when ``TICKER_PUBLIC_URL`` is https. Every HTML page: a Content-Security-Policy
that runs scripts and styles from our own origin only and lets only our own pages frame it. A page framed by
another rule (the iframe embed: its partners; the newsroom: nobody) sets its own ``page_policy``; a policy the
handler set is left as it is.

A pure ASGI middleware that touches only the response's start message: starlette's BaseHTTPMiddleware would run
each request through a task and a buffering response wrapper, a cost on every request and in the way of SSE.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticker.config import Settings
from ticker.http.origins import own_origin
from ticker.media.providers import Directory

SAME_ORIGIN_FRAMING = "frame-ancestors 'self'"
NO_FRAMING = "frame-ancestors 'none'"
CSP = b"content-security-policy"
CONTENT_TYPE = b"content-type"
HTML = b"text/html"


def live_origin(settings: Settings) -> str:
    """The origin of our websocket as browsers name it: ws:// or wss:// and our public host."""
    origin = own_origin(settings)
    return ("wss://" if origin.startswith("https://") else "ws://") + origin.split("://", 1)[1]


def page_policy(settings: Settings, frame_ancestors: str = SAME_ORIGIN_FRAMING, frame_src: str | None = None) -> str:
    """The Content-Security-Policy of our HTML pages, with the page's own ``frame-ancestors`` directive.

    Scripts and styles only from our origin: no inline script, style element or style attribute (scripts set
    styles through the CSSOM, which CSP leaves alone; JSON data blocks are not scripts). ``connect-src`` names
    the websocket's origin beside 'self': current browsers match 'self' to ws:/wss: of our host too, but CSP
    Level 2 matched our own scheme only. ``frame-src`` names the link cards' players (ticker.media.providers) on
    every page: a policy is fixed per response, and nothing is framed before the reader's click, when cards.js
    makes the iframe. Photos are hot-linked from wherever the newsroom found them, so any https: image may load
    (an http: one would be mixed content on our https pages anyway). A reader page with an ad slot adds the ad
    server's origin to ``frame-src`` (``frame_src``, ticker.http.ads).
    """
    players = Directory.of_settings(settings).frame_origins()
    frames = " ".join(["'self'", *players, *([frame_src] if frame_src else [])])
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' https:",
            f"connect-src 'self' {live_origin(settings)}",
            f"frame-src {frames}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            frame_ancestors,
        )
    )


class SecurityHeaders:
    """Adds the headers to each HTTP response as it starts; websockets pass through untouched."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
        if own_origin(settings).startswith("https://") and settings.hsts_seconds > 0:
            common.append((b"strict-transport-security", f"max-age={settings.hsts_seconds}".encode()))
        self.common = common
        self.page = (CSP, page_policy(settings).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self.headers_for(message.get("headers", ()))}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers_for(self, raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        headers = list(raw)
        present = {name.lower(): value for name, value in headers}
        added = [header for header in self.common if header[0] not in present]
        if CSP not in present and present.get(CONTENT_TYPE, b"").lower().startswith(HTML):
            added.append(self.page)
        return [*headers, *added]
