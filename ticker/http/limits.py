"""What a request may be before any handler sees it: a body of at most ``max_body_bytes`` (413), and a URL
without control characters in its path or query (422, ticker.textrules).

Path parameters and query parameters reach SQL (slugs, names, search words, cursors); checking the whole URL
here covers every route, present and future, instead of each handler remembering to."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticker.errors import Refused
from ticker.http.errors import error_response
from ticker.textrules import Kind, problem


def too_large(limit: int) -> Refused:
    return Refused("too_large", f"the request body is over {limit} bytes", "body")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})  # path → its own limit (an incident's file to import)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await error_response(too_large(limit))(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit)
            return message

        await self.app(scope, limited, send)


_MAY_HIDE_CONTROLS = re.compile(rb"[%\x00-\x1f\x7f-\xff]")


def url_problem(path: str, query_string: bytes) -> Refused | None:
    """The refusal of a URL whose (decoded) path or query holds a control character, naming the parameter."""
    if (found := problem(path, Kind.LINE)) is not None:
        return Refused.invalid("path", f"path: {found}")
    if not _MAY_HIDE_CONTROLS.search(query_string):  # plain ASCII, nothing percent-encoded: nothing to decode
        return None
    for name, value in QueryParams(query_string).multi_items():
        if (found := problem(name, Kind.LINE)) is not None:
            return Refused.invalid("query", f"query: a parameter name {found}")
        if (found := problem(value, Kind.LINE)) is not None:
            return Refused.invalid(name, f"{name}: {found}")
    return None


class UrlText:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (refused := url_problem(scope["path"], scope["query_string"])) is not None:
            await error_response(refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)
