"""Notices between nodes: a logout or a removed partner closes its sockets on every node."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.live import followers, subscribed
from tests.support.node import Node, node_settings, running_node
from tests.support.sinks import RecordingSink
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.exceptions import CloseCode
from ticker.hub import Hub
from ticker.notices import CHANNEL, Notices
from ticker.store.accounts import add_user
from ticker.store.logins import start_session
from ticker.store.sql import Store

SITE = "http://ticker.test"  # both nodes' public origin: the newsroom's pages are served from it
PARTNER = "http://127.0.0.2:8081"


async def test_a_notice_closes_the_sockets_it_names_and_nothing_else(sqlite_url: str) -> None:
    hub = Hub(Settings(database_url=sqlite_url), MemoryBroker(history=10), Store(sqlite_url))
    forgotten: list[bool] = []
    notices = Notices(None, hub, lambda: forgotten.append(True))
    sinks = {name: RecordingSink() for name in ("session 7", "session 8", "partner gp", "anonymous")}
    hub.connect(sinks["session 7"]).owner = 7
    hub.connect(sinks["session 8"]).owner = 8
    hub.connect(sinks["partner gp"], partner="gp")
    hub.connect(sinks["anonymous"])
    other = "another-node"
    notices.apply(json.dumps({"node": notices.node, "kind": "logout", "session": 7}).encode())  # our own: done
    notices.apply(b"not json")
    notices.apply(json.dumps({"node": other, "kind": "logout"}).encode())  # no session
    notices.apply(json.dumps({"node": other, "kind": "reboot"}).encode())  # a kind we do not know
    assert all(sink.closed is None for sink in sinks.values()) and len(hub.readers) == 4
    notices.apply(json.dumps({"node": other, "kind": "logout", "session": 7}).encode())
    notices.apply(json.dumps({"node": other, "kind": "partner_removed", "partner": "gp"}).encode())
    assert sinks["session 7"].closed == (CloseCode.SESSION_ENDED, "logged out")
    assert sinks["partner gp"].closed == (CloseCode.ORIGIN_NOT_ALLOWED, "this site is no longer a partner")
    assert sinks["session 8"].closed is None and sinks["anonymous"].closed is None
    assert len(hub.readers) == 2 and forgotten == [True]
    await hub.store.close()


async def both_listening(redis_url: str) -> None:
    """Wait until both nodes are subscribed to the notices channel: a notice sent before is not heard."""
    client = aioredis.from_url(redis_url)

    async def two() -> bool:
        counts: Any = await client.pubsub_numsub(CHANNEL)
        return bool(counts[0][1] >= 2)

    await eventually(two)
    await client.aclose()


async def closed_with(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), 10)  # a notice takes milliseconds; none at all fails here
    return ws.close_code


async def test_logout_on_one_node_closes_the_sessions_sockets_on_the_other(sqlite_url: str, redis_server: Any) -> None:
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE)
    async with running_node(settings) as a, running_node(settings) as b:
        slug = await (await a.reporter()).incident()
        account = await add_user(a.services.store, "anna", "Anna Svensson")
        token, login = await start_session(a.services.store, account, 3600)
        cookie = {"Cookie": f"ticker_session={token}", "Origin": SITE}
        on_b = await connect(b.ws_url, additional_headers=cookie)  # the desk's socket, on the other node
        anonymous = await connect(b.ws_url, additional_headers={"Origin": SITE})
        for ws in (on_b, anonymous):
            assert (await subscribed(ws, slug))["type"] == "subscribed"
        assert [r.owner for r in b.services.hub.readers if r.owner is not None] == [login.id]
        await both_listening(redis_server.url)
        async with httpx.AsyncClient(base_url=a.url) as client:
            answer = await client.post(
                "/logout", headers={**cookie, "X-CSRF-Token": login.csrf_token, "Accept": "application/json"}
            )
        assert answer.status_code == 200 and answer.json()["closed_sockets"] == 0  # none of them were on A
        assert await closed_with(on_b) == CloseCode.SESSION_ENDED
        assert len(b.services.hub.readers) == 1  # the anonymous reader reads on
        await anonymous.close()


async def test_removing_a_partner_on_one_node_closes_its_embeds_on_the_other(
    sqlite_url: str, redis_server: Any
) -> None:
    settings = node_settings(sqlite_url, redis_server.url, partner_cache_seconds=3600)
    async with running_node(settings) as a, running_node(settings) as b:
        admin = await a.reporter("ada", role="admin")
        slug = await admin.incident()
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
        embeds = await followers([b.ws_url, b.ws_url, a.ws_url], slug, PARTNER)
        await both_listening(redis_server.url)
        assert (await admin.http.delete("/api/partners/gp")).status_code == 204
        for ws in embeds:
            assert await closed_with(ws) == CloseCode.ORIGIN_NOT_ALLOWED
        # B trusted its cached partner list for an hour; the notice made it forget the partner at once.
        await refused_on(b)


async def refused_on(node: Node) -> None:
    try:
        await connect(node.ws_url, origin=Origin(PARTNER))
    except Exception as exc:  # InvalidStatus: 403 at the handshake
        assert getattr(getattr(exc, "response", None), "status_code", None) == 403
    else:
        raise AssertionError("a removed partner's origin was let in")
