"""The errors Ticker raises on purpose, and the websocket close codes (the only place they are defined).

A ``Refused`` is a request turned down: a code a program can test, a message in English, and the field it is
about when there is one. It knows nothing of HTTP or of the live protocol: each edge maps the code to its own
answer (ticker.http.errors to a status, ticker.live to an ``error`` reply).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal


class CloseCode(IntEnum):
    """Websocket close codes. 4000–4099: reconnect and resume. 4100–4199: do not reconnect."""

    NORMAL = 1000
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SERVER_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    SLOW_READER = 4000
    SESSION_ENDED = 4001
    ORIGIN_NOT_ALLOWED = 4100
    INCIDENT_DELETED = 4101


class TickerError(Exception):
    """Base of every error Ticker raises on purpose."""


class BrokerUnavailable(TickerError):
    """The broker cannot be reached now; the caller retries later."""


# Every code a refusal may carry: each edge has one answer per code (mypy holds raisers to this list).
PhotoCode = Literal["too_large", "empty", "unsupported_type", "not_an_image", "too_many_pixels"]
Code = Literal[
    PhotoCode,
    "invalid",
    "not_found",
    "gone",
    "conflict",
    "unauthorized",
    "session_expired",
    "forbidden",
    "csrf",
    "origin_not_allowed",
    "request_timeout",
    "unsupported_media_type",
    "too_many_uploads",
    "rate_limited",
    "client_disconnected",
    "not_implemented",
    "full",
    "busy",
    "unavailable",
]


class Refused(TickerError):
    """A request turned down: ``{"error": code, "message": ..., "field": ...}`` wherever it is answered."""

    def __init__(self, code: Code, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code: Code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body

    @classmethod
    def not_found(cls, what: str) -> Refused:
        return cls("not_found", f"{what} not found")

    @classmethod
    def unauthorized(cls, message: str = "a valid bearer token is required", field: str | None = None) -> Refused:
        return cls("unauthorized", message, field)

    @classmethod
    def forbidden(cls, message: str, field: str | None = None) -> Refused:
        return cls("forbidden", message, field)

    @classmethod
    def gone(cls, what: str = "incident") -> Refused:
        """A deleted incident (a takedown): its address stays gone, never shows its old content."""
        return cls("gone", f"{what} was deleted")

    @classmethod
    def invalid(cls, field: str, message: str) -> Refused:
        return cls("invalid", message, field)

    @classmethod
    def conflict(cls, message: str, field: str | None = None) -> Refused:
        return cls("conflict", message, field)
