"""The ``ticker`` command's HTTP client for a running node's API: the standard library only, so that commands
which only speak HTTP (post, incident …) start without the database, migration or server libraries.

Every write carries a fresh ``Idempotency-Key``; refusals become a CliError that says what went wrong in the
person's language (ticker.cli_text), never a raw JSON body.
"""

from __future__ import annotations

import http.client
import json
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from ticker.cli_text import CliError, say

TIMEOUT = 30.0


def call(url: str, token: str | None, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """``method path`` on the node at ``url``; the JSON answer of a 2xx, else CliError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(say("unreachable", url=url, reason="not an http(s) URL"))
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=TIMEOUT)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if method != "GET":
        headers["Idempotency-Key"] = secrets.token_hex(16)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    try:
        connection.request(method, parts.path.rstrip("/") + path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise CliError(say("unreachable", url=url, reason=reason)) from None
    finally:
        connection.close()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CliError(say("not_ticker", status=response.status, url=url))
    if 200 <= response.status < 300:
        return answer
    raise CliError(_refusal(response.status, answer, url))


def _refusal(status: int, answer: dict[str, Any], url: str) -> str:
    message = str(answer.get("message") or answer.get("error") or "")
    if status == 503:  # a refusal with something to say (Redis away: try again)
        return say("http_503", message=message)
    if status >= 500:
        return say("http_5xx", status=status)
    if status in (401, 403, 404, 409, 413, 415, 429):
        return say(f"http_{status}", message=message)
    if status == 422:
        return say("http_422", field=answer.get("field") or "?", message=message)
    return say("http_other", status=status, url=url, message=message)


def segment(value: str) -> str:
    """A path segment (a slug or name typed by a person), escaped."""
    return quote(value, safe="")
