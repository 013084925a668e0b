"""GET /support/swish.svg: the support box's QR code (ticker.http.page_extras has the box and the ad slot)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.page_extras import QR_PATH, swish_svg


async def swish_qr(request: Request) -> Response:
    """GET /support/swish.svg: the support box's QR code (same origin: the pages' img-src allows it)."""
    settings = node(request).settings
    if not settings.swish_number:
        raise Refused.not_found("support box (TICKER_SWISH_NUMBER is not set)")
    body = swish_svg(settings.swish_number, settings.swish_message)
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    return [Route(QR_PATH, swish_qr, methods=["GET", "HEAD"])]
