"""HTTP caching for a traffic spike: weak ETags, Last-Modified and a short max-age, so a CDN absorbs a storm.

A page served from a cache is still right: it embeds the seq it was rendered at and the script resumes from
there, so a few seconds of staleness cost one short catch-up, never a missed update.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response


def etag(*parts: object) -> str:
    """A weak validator: equal parts, equal representation (modulo viewer counts, which may lag)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def _modified_since(request: Request, last_modified: datetime) -> bool:
    header = request.headers.get("if-modified-since")
    if header is None:
        return True
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return True
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) > since


def is_fresh(request: Request, tag: str, last_modified: datetime | None) -> bool:
    """True when the client's copy is current (If-None-Match wins over If-Modified-Since, as RFC 9110 says)."""
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        theirs = {t.strip().removeprefix("W/") for t in none_match.split(",")}
        return "*" in theirs or tag.removeprefix("W/") in theirs
    return last_modified is not None and not _modified_since(request, last_modified)


def headers(tag: str, last_modified: datetime | None, max_age: int, vary: str | None = None) -> dict[str, str]:
    found = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    if last_modified is not None:
        found["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if vary is not None:
        found["Vary"] = vary
    return found


def not_modified(tag: str, last_modified: datetime | None, max_age: int, vary: str | None = None) -> Response:
    return Response(status_code=304, headers=headers(tag, last_modified, max_age, vary))


def conditional(
    request: Request,
    response: Response,
    tag: str,
    last_modified: datetime | None,
    max_age: int,
    vary: str | None = None,
) -> Response:
    """``response`` with caching headers, or a 304 when the client's copy is current."""
    if is_fresh(request, tag, last_modified):
        return not_modified(tag, last_modified, max_age, vary)
    response.headers.update(headers(tag, last_modified, max_age, vary))
    return response
