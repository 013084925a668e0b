"""The tip form's defences without a cookie: a request from our own page (Origin, else Referer), a signed token that
a page made a short while ago, and a honeypot field that people leave empty.

A reader has no session, so the token cannot be theirs: it is ``<period>.<signature>``, the period a number that
grows every half of ``TICKER_TIP_FORM_SECONDS`` and the signature our key's HMAC of it. A token is good for the
period it was made in and the next one (so at least half of TICKER_TIP_FORM_SECONDS, at most all of it). A page is
cached (ETag): its period is part of the ETag, so a kept copy is never older than its token. Another site's page
can neither read a token from ours nor send our Origin; a script that fetches our page and posts from a server
gets one tip per rate-limit slot of its address, like anyone.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ticker.http.csrf import own_origins
from ticker.http.node import node
from ticker.tips.store import keyed

TRAP = "website"  # the honeypot: a field people never see or fill in


def period(form_seconds: int, now: float | None = None) -> int:
    return int((time.time() if now is None else now) // max(1, form_seconds // 2))


def token(key: bytes, form_seconds: int, now: float | None = None) -> str:
    current = period(form_seconds, now)
    return f"{current}.{keyed(key, f'tip-form:{current}')[:32]}"


def token_ok(given: str, key: bytes, form_seconds: int, now: float | None = None) -> bool:
    made, _, signature = given.partition(".")
    if not made.isascii() or not made.isdigit() or len(made) > 12:
        return False
    if int(made) not in (period(form_seconds, now), period(form_seconds, now) - 1):
        return False
    return hmac.compare_digest(signature.encode(), keyed(key, f"tip-form:{made}")[:32].encode())


def from_our_page(request: Request) -> bool:
    """Origin names us; without an Origin (older browsers), the Referer's origin must."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        if not referer.scheme or not referer.netloc:
            return False
        origin = f"{referer.scheme}://{referer.netloc}"
    return origin.lower() in own_origins(request)


def client_address(request: Request) -> str:
    """The sender's address: the connection's, or the one TICKER_TRUSTED_PROXIES' X-Forwarded-For names (uvicorn
    rewrites the connection's address from it for those proxies only; ticker.server)."""
    return request.client.host if request.client is not None else ""


async def form_context(request: Request) -> dict[str, Any]:
    """What a page's tip form needs (web/templates/_tip_form.html): the token, and the limits it shows. The
    token is part of the page's ETag: a new period is a new page."""
    settings = node(request).settings
    return {
        "token": token(await node(request).tips.key(), settings.tip_form_seconds),
        "max_chars": settings.tip_max_chars,
        "contact_chars": settings.tip_contact_max_chars,
        "keep_days": settings.tips_keep_days,
        "trap": TRAP,
    }
