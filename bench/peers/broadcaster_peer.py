"""starlette + ``broadcaster`` on Redis pub/sub, written the way its README's chat example is: per reader, one
task reads the socket and one forwards the broadcast queue to it, cancelled together.

    reader: {"type":"subscribe","incident":SLUG} -> {"type":"subscribed",...}, then event frames
    POST /publish/SLUG with an event frame -> broadcast.publish(SLUG, frame) -> Redis -> every reader of SLUG
No history, so no resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from broadcaster import Broadcast
from common import SUBSCRIBED, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def create_app(redis_url: str) -> Starlette:
    broadcast = Broadcast(redis_url)

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_json()
        slug = str(message["incident"])
        async with broadcast.subscribe(channel=slug) as subscriber:
            await websocket.send_text(SUBSCRIBED.format(slug=slug))
            async with anyio.create_task_group() as tasks:

                async def forward() -> None:
                    # broadcaster 0.3.1 annotates Subscriber.__aiter__ as returning an Optional
                    async for event in subscriber:  # type: ignore[union-attr]
                        if event is not None:
                            await websocket.send_text(event.message)

                tasks.start_soon(forward)
                try:
                    while True:
                        await websocket.receive_text()
                except WebSocketDisconnect:
                    pass
                tasks.cancel_scope.cancel()

    async def publish(request: Request) -> JSONResponse:
        await broadcast.publish(channel=request.path_params["slug"], message=(await request.body()).decode())
        return JSONResponse({"ok": True}, status_code=201)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with broadcast:
            yield

    return Starlette(
        routes=[WebSocketRoute("/live", live), Route("/publish/{slug}", publish, methods=["POST"])],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    serve(create_app, __doc__ or "")
