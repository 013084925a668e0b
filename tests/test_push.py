"""Web Push ("Bevaka", issue 16) end to end without the internet: three nodes on one PostgreSQL and one Redis,
readers' browsers subscribed at a local push service (tests/support/push_service.py) that checks each request's
VAPID JWT and decrypts its payload with the browser's own keys.

One key event gives exactly one push per subscription whichever node it was posted on and however many nodes
run; a plain entry gives none; an entry edited into a key event gives one, and editing it again none; a 410
removes the subscription; a push service that is down is retried and delivered to once it is back; the close
reaches the followers last.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.push_service import PushService, push_service
from tests.support.services import RedisServer, ServerProcess
from tests.support.waiting import eventually
from ticker.push.tables import PushAlert, PushDelivery, PushSubscription
from ticker.store.accounts import add_user, create_token
from ticker.store.sql import Store


def push_env(database_url: str, **more: str) -> dict[str, str]:
    """A node that may send to the loopback push service, quickly: a 0.2 s sweep and retries after 0.2–0.5 s."""
    return {
        "TICKER_DATABASE_URL": database_url,
        "TICKER_FETCH_ALLOW_LOOPBACK": "1",
        "TICKER_PUSH_SERVICES": "127.0.0.1",
        "TICKER_PUSH_SWEEP_SECONDS": "0.2",
        "TICKER_PUSH_RETRY_SECONDS": "0.2",
        "TICKER_PUSH_RETRY_MAX_SECONDS": "0.5",
        **more,
    }


async def alert_done(store: Store, alert_id: int) -> bool:
    """Every delivery of the alert is sent, gone or given up: nothing of it is left to send, by any node."""
    async with store.reading() as session:
        # The state first: each read sees what is committed when it runs, and an alert's deliveries are made in the
        # transaction that sets it sending (counted first, none yet; then the state, sending meanwhile).
        state = await session.scalar(select(PushAlert.state).where(PushAlert.id == alert_id))
        left = await session.scalar(select(func.count()).where(PushDelivery.alert_id == alert_id))
    return state in ("sending", "held", "cancelled") and left == 0


async def alert_of(store: Store, entry_id: int | None, kind: str = "key_event") -> PushAlert | None:
    async with store.reading() as session:
        query = select(PushAlert).where(PushAlert.kind == kind)
        if entry_id is not None:
            query = query.where(PushAlert.entry_id == entry_id)
        found: PushAlert | None = await session.scalar(query)
    return found


async def settled(store: Store, entry_id: int | None, kind: str = "key_event") -> PushAlert:
    """The entry's alert once every node is done with it."""

    async def done() -> bool:
        alert = await alert_of(store, entry_id, kind)
        return alert is not None and await alert_done(store, alert.id)

    await eventually(done)
    alert = await alert_of(store, entry_id, kind)
    assert alert is not None
    return alert


def per_browser(service: PushService, url_end: str) -> Counter[int]:
    """How many pushes each browser got whose alert leads to ``url_end``."""
    return Counter(p.browser for p in service.pushes if p.alert["url"].endswith(url_end))


async def test_three_nodes_send_each_key_event_once_to_each_follower(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = push_env(postgres_url, TICKER_REDIS_URL=redis_server.url)
    store = Store(postgres_url)
    async with push_service() as service:
        with (
            ServerProcess(tmp_path, env) as one,
            ServerProcess(tmp_path, env) as two,
            ServerProcess(tmp_path, env) as three,
        ):
            nodes = [one, two, three]
            editor = await add_user(store, "eva", "Eva Svensson", "editor")
            token = await create_token(store, editor, "tests")
            clients = [
                httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                for node in nodes
            ]
            try:
                await run_three_nodes(store, service, clients)
            finally:
                for client in clients:
                    await client.aclose()
    await store.close()


async def call(client: httpx.AsyncClient, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    assert response.status_code == expect, (response.status_code, response.text)
    return response.json() if response.content else None


async def run_three_nodes(store: Store, service: PushService, clients: list[httpx.AsyncClient]) -> None:
    # The VAPID key is made once and kept in SQL: every node publishes the same one.
    keys = {(await call(client, "GET", "/api/push/key", 200))["public_key"] for client in clients}
    assert len(keys) == 1
    (published,) = keys
    slug = (await call(clients[0], "POST", "/api/incidents", 201, json={"title": "Brand i hamnen"}))["incident"]["slug"]

    # Three browsers follow the incident, each through another node; anonymously (no cookie is set).
    browsers = [service.browser() for _ in range(3)]
    tokens = []
    for browser, client in zip(browsers, clients, strict=True):
        response = await client.post(f"/api/incidents/{slug}/subscriptions", json=browser.subscription())
        assert response.status_code == 201, response.text
        assert "set-cookie" not in response.headers
        tokens.append(response.json()["subscription"]["token"])

    # A plain entry alerts nobody; a key event, posted on the second node, reaches each browser once.
    entries = f"/api/incidents/{slug}/entries"
    plain = (await call(clients[0], "POST", entries, 201, json={"body": "Röken syns över stan."}))["entry"]
    key = (await call(clients[1], "POST", entries, 201, json={"body": "Branden sprider sig.", "key_event": True}))[
        "entry"
    ]
    alert = await settled(store, key["id"])
    assert per_browser(service, f"#entry-{key['id']}") == {0: 1, 1: 1, 2: 1}
    assert (alert.recipients, alert.sent, alert.gone, alert.failed) == (3, 3, 0, 0)
    assert await alert_of(store, plain["id"]) is None
    assert not [p for p in service.pushes if p.alert["url"].endswith(f"#entry-{plain['id']}")]
    assert not service.refused
    push = service.pushes_to(browsers[0])[0]
    assert push.vapid_key == published  # signed by the key the nodes publish (checked by the service too)
    assert push.claims["aud"] == service.origin
    assert push.headers["urgency"] == "normal" and int(push.headers["ttl"]) > 0
    assert push.alert["title"] == "Brand i hamnen"
    assert "Branden sprider sig." in push.alert["body"]
    assert push.alert["url"].endswith(f"/i/{slug}#entry-{key['id']}")  # the page, at the entry
    assert push.alert["unsubscribe"].endswith(f"/push/unsubscribe/{tokens[0]}")

    # An entry edited into a key event alerts once; editing it again (still key) does not.
    became = f"{entries}/{plain['id']}"
    await call(clients[2], "PATCH", became, 200, json={"key_event": True})
    await settled(store, plain["id"])
    await call(clients[0], "PATCH", became, 200, json={"body": "Röken syns över hela stan."})
    assert per_browser(service, f"#entry-{plain['id']}") == {0: 1, 1: 1, 2: 1}

    # The push service says the first browser's subscription is gone (410): it is removed, the others get theirs.
    service.gone.add(0)
    second = (await call(clients[0], "POST", entries, 201, json={"body": "Evakuering.", "key_event": True}))["entry"]
    alert = await settled(store, second["id"])
    assert (alert.recipients, alert.sent, alert.gone) == (3, 2, 1)
    assert per_browser(service, f"#entry-{second['id']}") == {1: 1, 2: 1}
    await call(clients[1], "GET", f"/api/push/subscriptions/{tokens[0]}", 404)
    await call(clients[1], "GET", f"/api/push/subscriptions/{tokens[1]}", 200)
    async with store.reading() as session:
        assert await session.scalar(select(func.count()).select_from(PushSubscription)) == 2

    # The push service goes down: the nodes retry, and deliver once it is back, once each.
    await service.stop()
    attempts = service.attempts
    third = (await call(clients[2], "POST", entries, 201, json={"body": "Vägen stängs.", "key_event": True}))["entry"]

    async def retried() -> bool:
        async with store.reading() as session:
            tried = list(await session.scalars(select(PushDelivery.attempts)))
        return len(tried) == 2 and min(tried) >= 2

    await eventually(retried)
    assert service.attempts == attempts  # nothing reached it while it was down
    await service.start()
    alert = await settled(store, third["id"])
    assert (alert.recipients, alert.sent, alert.failed) == (2, 2, 0)
    assert per_browser(service, f"#entry-{third['id']}") == {1: 1, 2: 1}

    # The close is the followers' last alert, at low urgency.
    await call(clients[0], "POST", f"/api/incidents/{slug}/close", 200)
    await settled(store, None, "closed")
    closes = [p for p in service.pushes if p.alert["url"].endswith(f"/i/{slug}")]
    assert Counter(p.browser for p in closes) == {1: 1, 2: 1}
    assert all(p.headers["urgency"] == "low" for p in closes)
    assert not service.refused
