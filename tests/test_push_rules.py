"""Web Push's rules on one node (issue 16): what a subscription may be, the limits, unfollowing, the hourly
bound on alerts and an editor's urgent alert past it, and what the desk shows. Alerts go to the loopback push
service of tests/support/push_service.py."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.newsroom import PASSWORD, http_login, person
from tests.support.node import Node, node_settings, running_node
from tests.support.push_service import PushService, push_service
from tests.support.waiting import eventually
from ticker.push.tables import PushAlert, PushSubscription


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    async with push_service() as found:
        yield found


async def kept(node: Node) -> int:
    async with node.services.store.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PushSubscription)) or 0)


async def test_a_subscription_is_checked_before_it_is_kept(service: PushService, sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, fetch_allow_loopback=True, push_max_subscriptions=2)
    async with running_node(settings) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        anyone = httpx.AsyncClient(base_url=node.url)
        follow = f"/api/incidents/{slug}/subscriptions"
        good = service.browser().subscription()

        async def refused(body: Any, status: int, field: str | None, path: str = follow) -> None:
            response = await anyone.post(path, json=body)
            assert response.status_code == status, response.text
            assert response.json().get("field") == field, response.json()

        keys = good["keys"]
        await refused({**good, "endpoint": "https://push.example.com/1"}, 422, "endpoint")  # not a push service here
        await refused({**good, "endpoint": "ftp://127.0.0.1/1"}, 422, "endpoint")
        await refused({**good, "endpoint": "https://127.0.0.1/" + "x" * 1100}, 422, "endpoint")
        await refused({**good, "keys": {**keys, "p256dh": b64url(b"\x04" + os.urandom(64))}}, 422, "keys.p256dh")
        await refused({**good, "keys": {**keys, "p256dh": "not base64!"}}, 422, "keys.p256dh")
        await refused({**good, "keys": {**keys, "auth": b64url(os.urandom(15))}}, 422, "keys.auth")
        await refused({"endpoint": good["endpoint"]}, 422, "keys")
        await refused({**good, "cookie": "1"}, 422, "cookie")
        await refused({**good, "lang": "de"}, 422, "lang")
        await refused(good, 404, None, "/api/incidents/ingen-sadan/subscriptions")
        assert await kept(node) == 0  # nothing refused was kept

        # TICKER_PUSH_MAX_SUBSCRIPTIONS followers per incident; the same browser again keeps its token.
        first = await anyone.post(follow, json=good)
        assert first.status_code == 201 and "set-cookie" not in first.headers
        token = first.json()["subscription"]["token"]
        again = await anyone.post(follow, json={**good, "lang": "en"})
        assert again.status_code == 201 and again.json()["subscription"]["token"] == token
        assert (await anyone.post(follow, json=service.browser().subscription())).status_code == 201
        await refused(service.browser().subscription(), 409, "incident")
        assert await kept(node) == 2

        # Unfollowing: by the token (the page's button), or through the page an alert links to.
        assert (await anyone.get(f"/api/push/subscriptions/{token}")).json() == {"subscription": {"incident": slug}}
        assert (await anyone.delete(f"/api/push/subscriptions/{token}")).status_code == 204
        assert (await anyone.delete(f"/api/push/subscriptions/{token}")).status_code == 404
        assert (await anyone.get(f"/api/push/subscriptions/{token}")).status_code == 404
        other = (await anyone.post(follow, json=good)).json()["subscription"]["token"]
        asked = await anyone.get(f"/push/unsubscribe/{other}")
        assert asked.status_code == 200 and "Vill du sluta få notiser om Brand i hamnen?" in asked.text
        assert await kept(node) == 2  # asking changes nothing (a link scanner opens links too)
        done = await anyone.post(f"/push/unsubscribe/{other}")
        assert done.status_code == 200 and "Du får inte längre notiser om Brand i hamnen." in done.text
        assert (await anyone.get(f"/push/unsubscribe/{other}")).status_code == 404
        assert await kept(node) == 1

        # A closed incident sends no more alerts: nobody may follow it.
        await editor.call("POST", f"/api/incidents/{slug}/close")
        await refused(service.browser().subscription(), 409, "incident")
        await anyone.aclose()


async def test_plain_http_push_services_only_for_the_tests_loopback_one(service: PushService, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:  # TICKER_FETCH_ALLOW_LOOPBACK off
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        response = await editor.http.post(f"/api/incidents/{slug}/subscriptions", json=service.browser().subscription())
        assert response.status_code == 422 and response.json()["field"] == "endpoint"


async def test_the_hourly_bound_holds_alerts_back_and_an_editor_sends_one_urgent(
    service: PushService, sqlite_url: str
) -> None:
    settings = node_settings(sqlite_url, fetch_allow_loopback=True, push_alerts_per_hour=1, push_sweep_seconds=0.1)
    async with running_node(settings) as node:
        editor = await node.reporter()
        reporter = await node.reporter("rut", role="reporter")
        slug = await editor.incident("Brand i hamnen")
        reader = service.browser()
        await editor.call("POST", f"/api/incidents/{slug}/subscriptions", 201, json=reader.subscription())
        first = (await editor.post(slug, "Branden sprider sig.", key_event=True))["entry"]
        second = (await editor.post(slug, "Evakuering pågår.", key_event=True))["entry"]

        async def states() -> dict[int | None, str]:
            async with node.services.store.reading() as session:
                return {a.entry_id: a.state for a in await session.scalars(select(PushAlert))}

        await eventually(lambda: _equal(states(), {first["id"]: "sending", second["id"]: "held"}))
        await eventually(lambda: len(service.pushes_to(reader)) == 1)
        assert service.pushes_to(reader)[0].alert["url"].endswith(f"#entry-{first['id']}")

        # An editor sends the held one as urgent: it goes, at Urgency high; once per entry; not by a reporter.
        urgent = f"/api/incidents/{slug}/alerts"
        await reporter.call("POST", urgent, 403, json={"entry": second["id"]})
        sent = await editor.call("POST", urgent, 201, json={"entry": second["id"]})
        assert sent["alert"]["kind"] == "urgent" and sent["alert"]["created_by"] == "Anna Svensson"
        await editor.call("POST", urgent, 409, json={"entry": second["id"]})
        await editor.call("POST", urgent, 404, json={"entry": 999999})
        await eventually(lambda: len(service.pushes_to(reader)) == 2)
        push = service.pushes_to(reader)[1]
        assert push.headers["urgency"] == "high" and push.alert["url"].endswith(f"#entry-{second['id']}")

        summary = await editor.call("GET", f"/api/incidents/{slug}/alerts")
        assert (summary["followers"], summary["sent"], summary["held"], summary["alerts_per_hour"]) == (1, 2, 1, 1)

        # The desk's incident page shows the same, and the editor's urgent form.
        await person(node, "eva", "editor")
        async with httpx.AsyncClient(base_url=node.url) as desk:
            await http_login(desk, "eva", PASSWORD)
            page = (await desk.get(f"/desk/i/{slug}")).text
        assert "1 bevakar händelsen" in page and "2 notiser har skickats" in page
        assert "1 hölls tillbaka av gränsen per timme" in page and 'class="push-urgent"' in page


async def _equal(found: Any, expected: dict[int | None, str]) -> bool:
    result: dict[int | None, str] = await found
    return result == expected
