"""One error hierarchy, and the websocket close codes (the only place they are defined)."""

from __future__ import annotations

from enum import IntEnum


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

    @property
    def reconnect(self) -> bool:
        return self in {CloseCode.SERVER_ERROR, CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER} or (
            4000 <= self < 4100
        )


class TickerError(Exception):
    """Base of every error Ticker raises on purpose."""


class BrokerUnavailable(TickerError):
    """The broker cannot be reached now; the caller retries later."""


class APIError(TickerError):
    """An error answered to an HTTP client as JSON: ``{"error": code, "message": ..., "field": ...}``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class NotFound(APIError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")


class Unauthorized(APIError):
    def __init__(self, message: str = "a valid bearer token is required") -> None:
        super().__init__(401, "unauthorized", message)


class Forbidden(APIError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(403, "forbidden", message, field)


class Gone(APIError):
    """A deleted incident (a takedown): its address answers 410 for good, never its old content."""

    def __init__(self, what: str = "incident") -> None:
        super().__init__(410, "gone", f"{what} was deleted")


class Invalid(APIError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, "invalid", message, field)


class Conflict(APIError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(409, "conflict", message, field)
