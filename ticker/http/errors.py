"""Refusals as HTTP answers: one status per refusal code, and the JSON body every refusal has (its code, the
problem, and the field when there is one). A browser that asks for a page gets one instead
(ticker.http.error_pages)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ticker.errors import Code, Refused
from ticker.http.error_pages import error_page, wants_page

STATUS: dict[Code, int] = {
    "client_disconnected": 400,  # no one reads it: the client is gone
    "unauthorized": 401,
    "session_expired": 401,
    "forbidden": 403,
    "csrf": 403,
    "origin_not_allowed": 403,
    "not_found": 404,
    "request_timeout": 408,
    "conflict": 409,
    "gone": 410,
    "too_large": 413,
    "unsupported_media_type": 415,
    "invalid": 422,
    "empty": 422,
    "unsupported_type": 422,
    "not_an_image": 422,
    "too_many_pixels": 422,
    "too_many_uploads": 429,
    "rate_limited": 429,
    "not_implemented": 501,
    "full": 503,
    "busy": 503,
    "unavailable": 503,
}


def status_of(refused: Refused) -> int:
    return STATUS[refused.code]


def error_response(refused: Refused) -> JSONResponse:
    return JSONResponse(refused.body(), status_code=status_of(refused))


async def refused_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    if wants_page(request):
        return error_page(request, status_of(exc))
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_page(request):
        return error_page(request, exc.status_code, exc.headers)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": code, "message": str(exc.detail)}, status_code=exc.status_code)


async def client_gone(_request: Request, _exc: Exception) -> Response:
    """The connection closed before the request had all arrived: the client closed it, or the node did for a
    body that came too slowly (ticker.partial_requests, which answered 408 itself). No one reads this answer,
    and it is no fault of the node's, so it logs no traceback."""
    return error_response(Refused("client_disconnected", "the connection closed before the request ended"))
