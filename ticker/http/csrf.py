"""Cross-site request forgery: an Origin check and the session's token on every state-changing request.

A browser sends the session cookie with any request to us, even one another site's page starts. Two checks
refuse those: the request's Origin (sent by browsers on every POST, fetch and websocket handshake) must be our
own, and the request must carry the session's CSRF token, which only our own pages know — in the
``X-CSRF-Token`` header (fetch) or the ``csrf`` form field (HTML forms). Bearer-token requests need neither:
a browser never adds an Authorization header by itself.
"""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection

from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.origins import own_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
FIELD = "csrf"


def cross_site(field: str, message: str) -> Refused:
    return Refused("csrf", message, field)


def own_origins(connection: HTTPConnection) -> set[str]:
    """Our public URL's origin, and the origin of the Host this request was sent to."""
    scheme = {"ws": "http", "wss": "https"}.get(connection.url.scheme, connection.url.scheme)
    host = connection.headers.get("host", "")
    return {own_origin(node(connection).settings), f"{scheme}://{host}".lower()}


def from_own_origin(connection: HTTPConnection, *, required: bool) -> bool:
    """True when the Origin header names us (or, unless ``required``, when there is none)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return not required
    return origin.lower() in own_origins(connection)


def check(connection: HTTPConnection, method: str, expected: str, given: str | None) -> None:
    """Refuse a state-changing request from another origin or without the expected token."""
    if method in SAFE_METHODS:
        return
    if not from_own_origin(connection, required=False):
        raise cross_site("Origin", "requests from another origin are refused")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise cross_site(FIELD, "a valid CSRF token is required (X-CSRF-Token header or csrf field)")
