"""An in-process Ticker node on a free port (real uvicorn, real sockets), and a reporter's HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from tests.support.services import free_port
from ticker.app import create_app
from ticker.broker import Broker
from ticker.config import Settings
from ticker.node import Node as TickerNode
from ticker.notices import Notices
from ticker.server import started, uvicorn_config
from ticker.store.accounts import add_user, create_token


@dataclass
class Node:
    url: str
    ws_url: str
    services: TickerNode  # every part of the node: hub, store, relay, settings, …
    server: uvicorn.Server
    notices: Notices
    clients: list[Reporter] = field(default_factory=list)

    async def reporter(self, name: str = "anna", role: str = "editor") -> Reporter:
        """A new API user with a token (an editor, who may open, close and pin; pass role to be another);
        its HTTP client is closed with the node."""
        account = await add_user(self.services.store, f"{name}{len(self.clients)}", name.title() + " Svensson", role)
        token = await create_token(self.services.store, account, "tests")
        self.clients.append(Reporter(self.url, token))
        return self.clients[-1]


def node_settings(database_url: str, redis_url: str | None = None, **overrides: Any) -> Settings:
    # No test node sends Web Push to a real push service: a subscription must name the loopback one
    # (tests/support/push_service.py), whatever a test or a fuzzer gives it.
    overrides.setdefault("push_services", "127.0.0.1")
    return Settings(database_url=database_url, redis_url=redis_url, **overrides)


@asynccontextmanager
async def running_node(settings: Settings, *, broker: Broker | None = None) -> AsyncIterator[Node]:
    settings = settings.replace(host="127.0.0.1", port=free_port())
    app = create_app(settings, broker=broker, started=started)  # the server's process decisions too
    config = uvicorn.Config(app, **uvicorn_config(settings, log_config=None, loop="asyncio", log_level="warning"))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{settings.port}"
    ticker_node: TickerNode = app.state.node
    node = Node(base, f"ws://127.0.0.1:{settings.port}/live", ticker_node, server, ticker_node.notices)
    try:
        yield node
    finally:
        for client in node.clients:
            await client.aclose()
        server.should_exit = True
        await task


class Reporter:
    """The reporter API over HTTP with a bearer token."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=url, headers=headers, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    async def incident(self, title: str = "Brand i hamnen", **fields: Any) -> str:
        body = await self.call("POST", "/api/incidents", 201, json={"title": title, **fields})
        slug: str = body["incident"]["slug"]
        return slug

    async def post(self, slug: str, body: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", f"/api/incidents/{slug}/entries", 201, json={"body": body, **fields}
        )
        return result

    async def try_post(self, slug: str, body: str) -> bool:
        """Post as a client on a flaky link would: True if acknowledged (201), False if it failed in any way."""
        try:
            response = await self.http.post(f"/api/incidents/{slug}/entries", json={"body": body})
        except httpx.HTTPError:
            return False
        return response.status_code == 201

    async def state(self, slug: str) -> dict[str, Any]:
        """GET the incident and every entry, following the entry cursor."""
        snapshot = await self.call("GET", f"/api/incidents/{slug}")
        entries, cursor = snapshot["entries"], snapshot["next"]
        while cursor is not None:
            page = await self.call("GET", f"/api/incidents/{slug}/entries", params={"before": cursor})
            entries += page["entries"]
            cursor = page["next"]
        return {"incident": snapshot["incident"], "seq": snapshot["seq"], "entries": {e["id"]: e for e in entries}}
