"""Server-Sent Events: the fallback for readers whose websocket cannot open (proxies that block them).

``GET /sse/{slug}?since=N&epoch=E`` carries the same messages as the websocket (docs/protocol.md), one
``data:`` line each. Events and snapshots carry ``id: <seq>``, so the browser's own reconnect sends
``Last-Event-ID`` and resumes exactly as a websocket subscribe with ``since`` does (the header wins over the
query). ``GET /sse?follow=slug:N:E&follow=…`` carries several incidents (the front page); its page resumes by
opening a new stream with its positions. The hub sees an SSE reader as one more Sink (ticker.live.sse), handed
each message whole: its seq and payload beside the frame. A reader whose unsent bytes pass
``send_buffer_bytes`` gets ``event: close`` with code 4000 and the stream ends: its browser reconnects and
resumes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.origins import admit
from ticker.http.params import since as since_of
from ticker.live.sse import EventStream, SSESink
from ticker.textrules import SLUG, WHOLE_NUMBER, whole_number

MAX_EPOCH_CHARS = 64


async def stream(request: Request) -> Response:
    slug = request.path_params["slug"]
    if not SLUG.match(slug):
        raise Refused.invalid("incident", "incident must be an incident slug")
    since = since_of(request)
    epoch = request.query_params.get("epoch") or None
    if epoch is not None and len(epoch) > MAX_EPOCH_CHARS:
        raise Refused.invalid("epoch", f"epoch: at most {MAX_EPOCH_CHARS} characters")
    return await _open(request, [(slug, since, epoch)])


def _follows(request: Request, most: int) -> list[tuple[str, int | None, str | None]]:
    """``?follow=slug[:since[:epoch]]``, once per incident: what a page following several incidents resumes."""
    raw = request.query_params.getlist("follow")
    if not 1 <= len(raw) <= most:
        raise Refused.invalid("follow", f"follow: between 1 and {most} incidents, as slug:since:epoch")
    follows: list[tuple[str, int | None, str | None]] = []
    for value in raw:
        slug, since, epoch = [*value.split(":", 2), "", ""][:3]
        if not SLUG.match(slug) or slug in (f[0] for f in follows):
            raise Refused.invalid("follow", f"follow: {value[:100]!r} does not start with an incident slug (once each)")
        if since and whole_number(since) is None:
            raise Refused.invalid("follow", f"follow: {value[:100]!r}: since must be {WHOLE_NUMBER}")
        if len(epoch) > MAX_EPOCH_CHARS:
            raise Refused.invalid("follow", f"follow: {value[:100]!r}: epoch of at most {MAX_EPOCH_CHARS} characters")
        follows.append((slug, int(since) if since else None, epoch or None))
    return follows


async def stream_many(request: Request) -> Response:
    """Several incidents on one stream (the front page). Its events carry their ids as ``/sse/{slug}``'s do, but
    one Last-Event-ID cannot say where each incident is: a page resumes by opening a new stream with its
    positions in ``follow``, and this route ignores the header."""
    return await _open(request, _follows(request, node(request).settings.max_subscriptions))


async def _open(request: Request, follows: list[tuple[str, int | None, str | None]]) -> Response:
    svc = node(request)
    admission = await admit(svc.origins, request)  # 403 for an origin that may not follow these incidents
    for slug, _since, _epoch in follows:
        admission.check(slug)
    if svc.hub.full:
        raise Refused("full", "this node is full: try again later")
    sink = SSESink(svc.settings.send_buffer_bytes)
    reader = svc.hub.connect(sink, svc.partner_readers.opened(admission.partner), sink.deliver)
    deleted = []
    try:
        for slug, since, epoch in follows:
            try:
                await svc.hub.subscribe(reader, slug, since, epoch)
            except Refused as refused:  # told in the stream, as a live reader is: EventSource cannot read a 410
                if refused.code != "gone":
                    raise
                deleted.append(slug)
        for slug in deleted:  # the stream ends with 4101 when it follows nothing else
            svc.hub.tell_deleted(reader, slug)
    except BaseException:
        svc.hub.disconnect(reader)
        raise
    response = EventStream(svc.hub, reader, sink, svc.settings.sse_heartbeat_seconds)
    response.headers.update(admission.cors_headers())
    return response


def routes() -> list[BaseRoute]:
    return [Route("/sse/{slug}", stream, methods=["GET"]), Route("/sse", stream_many, methods=["GET"])]
