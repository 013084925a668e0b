"""A person at the desk over plain HTTP (a session cookie, the CSRF token, our Origin): the admin pages' forms, and
the desk's live socket as their page opens it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.support.live import subscribed
from tests.support.node import Node, Reporter
from ticker.store.accounts import Account
from ticker.store.logins import start_session


@dataclass
class Desk:
    """One desk session on one node (started as a login would start it: ticker.store.logins)."""

    node: Node
    origin: str
    cookie: str
    csrf: str
    session: int
    http: httpx.AsyncClient

    @classmethod
    async def start(cls, node: Node, account: Account, origin: str | None = None) -> Desk:
        token, login = await start_session(node.services.store, account, 3600)
        origin = origin or node.url
        headers = {"Cookie": f"ticker_session={token}", "Origin": origin}
        client = Reporter(node.url, None)  # closed with the node
        client.http.headers.update(headers)
        node.clients.append(client)
        return cls(node, origin, f"ticker_session={token}", login.csrf_token, login.id, client.http)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(path, params=params, headers={"Accept": "text/html"})

    async def post(self, path: str, **form: str) -> httpx.Response:
        """A form of the desk's, sent with the session's CSRF token."""
        return await self.http.post(path, data={"csrf": self.csrf, **form}, headers={"Accept": "text/html"})

    async def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """The API as the desk's scripts call it: the session cookie and the X-CSRF-Token header."""
        return await self.http.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf})

    async def socket(self, slug: str, node: Node | None = None) -> ClientConnection:
        """The desk page's live socket (on ``node``, this one by default), following ``slug``."""
        ws = await connect(
            (node or self.node).ws_url, additional_headers={"Cookie": self.cookie, "Origin": self.origin}
        )
        assert (await subscribed(ws, slug))["type"] == "subscribed"
        return ws
