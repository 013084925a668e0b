"""python-socketio peer: ``AsyncServer`` with its ``AsyncRedisManager``, websocket transport only.

    reader: engine.io open, "40", then 42["subscribe",{"incident": SLUG}] -> 42["subscribed",{...}]
    POST /publish/SLUG with an event frame -> sio.emit("event", frame, room=SLUG) through the Redis manager
No history, so no resume.
"""

from __future__ import annotations

import json
from typing import Any

import socketio  # type: ignore[import-untyped]
from common import SUBSCRIBED, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app(redis_url: str) -> Any:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(redis_url),
        transports=["websocket"],
        cors_allowed_origins="*",
    )

    @sio.on("subscribe")  # type: ignore[untyped-decorator]
    async def subscribe(sid: str, data: dict[str, Any]) -> None:
        slug = str(data["incident"])
        await sio.enter_room(sid, slug)
        await sio.emit("subscribed", json.loads(SUBSCRIBED.format(slug=slug)), to=sid)

    async def publish(request: Request) -> JSONResponse:
        await sio.emit("event", await request.json(), room=request.path_params["slug"])
        return JSONResponse({"ok": True}, status_code=201)

    api = Starlette(routes=[Route("/publish/{slug}", publish, methods=["POST"])])
    return socketio.ASGIApp(sio, other_asgi_app=api)


if __name__ == "__main__":
    serve(create_app, __doc__ or "")
