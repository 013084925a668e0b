"""A request id on every request: ``X-Request-ID`` in, the same out, and in each log line the request causes.

asgi_correlation_id's middleware does the work: it takes the client's (or the proxy's) id when it is one we can
log safely (``valid``: at most TICKER_REQUEST_ID_MAX_CHARS of letters, digits and ``._~:+/=-``), else makes one,
keeps it in a context variable for the request's log lines (ticker.log_format reads it) and returns it. With
TICKER_ACCESS_LOG, ``AccessLog`` writes one ``http_request`` line per request; without it, it is not installed.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticker.config import Settings
from ticker.logs import log_event

HEADER = "X-Request-ID"
SAFE = re.compile(r"[A-Za-z0-9._~:+/=-]+")  # nothing that could break a log line or forge a field
MAX_PATH_CHARS = 500  # of a path in the access log: a line stays a line


def validator(max_chars: int) -> Callable[[str], bool]:
    def valid(value: str) -> bool:
        return len(value) <= max_chars and SAFE.fullmatch(value) is not None

    return valid


def middleware(settings: Settings) -> list[Middleware]:
    """The request id, outermost (every answer carries it), and the access log inside it when it is on."""
    found = [
        Middleware(
            CorrelationIdMiddleware,
            header_name=HEADER,
            validator=validator(settings.request_id_max_chars),
            generator=lambda: uuid.uuid4().hex,
        )
    ]
    if settings.access_log:
        found.append(Middleware(AccessLog))
    return found


class AccessLog:
    """One line per HTTP request once it is answered: method, path (no query: it may hold tokens), status,
    milliseconds; the request id comes with the line's context. Status 0: the client left before an answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = status or 500  # uvicorn answers 500 for what escaped the app
            raise
        finally:
            took = round((time.perf_counter() - start) * 1000, 1)
            path = scope["path"][:MAX_PATH_CHARS]
            log_event("http_request", method=scope["method"], path=path, status=status, ms=took)
