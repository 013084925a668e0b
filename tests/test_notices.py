"""Notices between nodes: a logout or a removed partner closes its sockets on every node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.live import followers, subscribed
from tests.support.node import Node, node_settings, running_node
from tests.support.services import RedisServer
from tests.support.sinks import RecordingSink
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.errors import CloseCode
from ticker.live.hub import Hub
from ticker.notices import Notices
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


async def listening(*nodes: Node) -> None:
    """Wait until the nodes read the notices stream: a node starts at the stream's end, so a notice sent
    before it knew where that end was would not be its to read."""
    await eventually(lambda: all(node.notices.listening for node in nodes))


async def desk_socket_on(b: Node, a: Node) -> tuple[str, ClientConnection, Callable[[], Awaitable[httpx.Response]]]:
    """An incident; a newsroom session started through A with its desk's socket on B following the incident;
    and the session's logout (through A)."""
    slug = await (await a.reporter()).incident()
    account = await add_user(a.services.store, "anna", "Anna Svensson")
    token, login = await start_session(a.services.store, account, 3600)
    cookie = {"Cookie": f"ticker_session={token}", "Origin": SITE}
    on_b = await connect(b.ws_url, additional_headers=cookie)
    assert (await subscribed(on_b, slug))["type"] == "subscribed"
    assert [r.owner for r in b.services.hub.readers if r.owner is not None] == [login.id]

    async def log_out() -> httpx.Response:
        async with httpx.AsyncClient(base_url=a.url) as client:
            headers = {**cookie, "X-CSRF-Token": login.csrf_token, "Accept": "application/json"}
            return await client.post("/logout", headers=headers)

    return slug, on_b, log_out


async def closed_with(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), 10)  # a notice takes milliseconds; none at all fails here
    return ws.close_code


async def test_logout_on_one_node_closes_the_sessions_sockets_on_the_other(sqlite_url: str, redis_server: Any) -> None:
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE)
    async with running_node(settings) as a, running_node(settings) as b:
        slug, on_b, log_out = await desk_socket_on(b, a)
        anonymous = await connect(b.ws_url, additional_headers={"Origin": SITE})
        assert (await subscribed(anonymous, slug))["type"] == "subscribed"
        await listening(a, b)
        answer = await log_out()
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
        await listening(a, b)
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


async def test_a_node_cut_off_from_redis_when_a_logout_was_announced_closes_the_socket_when_back(
    sqlite_url: str, redis_server: RedisServer
) -> None:
    """B reaches Redis as its own user; switching that user off (and its connections with it) cuts B off while
    A announces a logout. B, back, reads on from the last notice it had and closes the session's socket."""
    assert redis_server.call("ACL SETUSER nodeb on >secret ~* &* +@all") == "+OK"
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE, broker_block_seconds=0.5)
    b_url = redis_server.url.replace("redis://", "redis://nodeb:secret@")
    async with running_node(settings) as a, running_node(settings.replace(redis_url=b_url)) as b:
        _slug, on_b, log_out = await desk_socket_on(b, a)
        await listening(a, b)
        assert redis_server.call("ACL SETUSER nodeb off") == "+OK"
        assert redis_server.call("CLIENT KILL USER nodeb").startswith(":")
        await eventually(lambda: not b.notices.listening)
        assert (await log_out()).status_code == 200
        await asyncio.sleep(1.0)  # B tries, and fails, to get back meanwhile
        assert on_b.close_code is None and not b.notices.listening
        assert redis_server.call("ACL SETUSER nodeb on") == "+OK"
        assert await closed_with(on_b) == CloseCode.SESSION_ENDED  # before: missed for good (pub/sub)


async def test_notices_go_on_after_redis_restarts_empty(sqlite_url: str, redis_server: RedisServer) -> None:
    """Notice ids are Redis's clock, so after a restart they still come after the last one a node read."""
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE, broker_block_seconds=0.5)
    async with running_node(settings) as a, running_node(settings) as b:
        _slug, on_b, log_out = await desk_socket_on(b, a)
        await listening(a, b)
        redis_server.kill()
        await eventually(lambda: not a.notices.listening and not b.notices.listening)
        redis_server.start()
        await listening(a, b)
        assert (await log_out()).status_code == 200
        assert await closed_with(on_b) == CloseCode.SESSION_ENDED


async def test_a_frozen_redis_is_noticed_and_notices_go_on_when_it_answers_again(
    sqlite_url: str, redis_server: RedisServer
) -> None:
    """A Redis that answers nothing (SIGSTOP: a frozen host, a stalled network) ends the blocking read after its
    socket timeout instead of holding it for ever; the node reads on when Redis answers again."""
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE, broker_block_seconds=0.5)
    async with running_node(settings) as a, running_node(settings) as b:
        _slug, on_b, log_out = await desk_socket_on(b, a)
        await listening(a, b)
        redis_server.pause()
        try:
            await eventually(lambda: not b.notices.listening, timeout=15)  # the block time and 5 s more
        finally:
            redis_server.resume()
        await listening(a, b)
        assert (await log_out()).status_code == 200
        assert await closed_with(on_b) == CloseCode.SESSION_ENDED
