"""Errors as JSON: every refusal names its code, the problem, and the field when there is one. A browser that
asks for a page gets one instead (ticker.http.error_pages)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ticker.exceptions import APIError
from ticker.http.error_pages import error_page, wants_page


def error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    if wants_page(request):
        return error_page(request, exc.status)
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
    return error_response(APIError(400, "client_disconnected", "the connection closed before the request ended"))
