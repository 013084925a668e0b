"""Deleting an incident (a legal takedown, issue #14 part D): everything it held goes, its addresses answer 410,
lists and search drop it, open pages on every node are told and stop, and the address never comes back with
old content."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.live import subscribed
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.services import RedisServer
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.errors import CloseCode
from ticker.push.tables import PushSubscription
from ticker.relay import Relay
from ticker.store.audit import Actor, AuditRow
from ticker.store.partners import partners
from ticker.store.tables import Entry, Event, Incident
from ticker.store.takedown import delete_incident

PARTNER = "https://www.gp.se"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def story(
    node: Node, editor: Reporter, title: str = "Brand i hamnen", text: str = "Lagerhuset brinner"
) -> tuple[str, list[int]]:
    slug = await editor.incident(title)
    ids = [(await editor.post(slug, f"{text}, uppdatering {n}.", key_event=n == 0))["entry"]["id"] for n in range(3)]
    return slug, ids


async def follow_with_push(node: Node, slug: str) -> None:
    """A reader's browser following the incident with Web Push ("Bevaka"), as ticker.push keeps it."""
    async with node.services.store.writing() as session:
        incident_id = await session.scalar(select(Incident.id).where(Incident.slug == slug))
        session.add(
            PushSubscription(
                incident_id=incident_id,
                endpoint="https://fcm.googleapis.com/fcm/send/abc",
                p256dh="B" * 87,
                auth="A" * 22,
                lang="sv",
                token="ps_" + "x" * 40,
                created_at=datetime.now(UTC),
            )
        )


async def deleted_then_closed(ws: ClientConnection, slug: str) -> int | None:
    """The messages a reader gets from now on: the ``deleted`` one, then the close (its code)."""
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message == {"type": "deleted", "incident": slug}
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code


async def test_a_deleted_incidents_addresses_answer_410_and_nothing_shows_it(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        admin = await node.reporter("ada", role="admin")
        slug, ids = await story(node, editor)
        other, _ = await story(node, editor, "Storm över kusten", "Vinden ökar")
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})  # every incident
        only = {"name": "kommunen", "origins": ["https://www.goteborg.se"], "incidents": [slug, other]}
        await admin.call("POST", "/api/partners", 201, json=only)
        # A post sent with an Idempotency-Key: its stored answer shows the incident.
        key = {"Idempotency-Key": "nyckel-1"}
        retry = {"body": "Sista uppdateringen."}
        await editor.call("POST", f"/api/incidents/{slug}/entries", 201, json=retry, headers=key)
        await follow_with_push(node, slug)
        reader = await connect(node.ws_url)
        assert (await subscribed(reader, slug))["type"] == "subscribed"
        both = await connect(node.ws_url)  # follows the deleted incident and another one
        for followed in (slug, other):
            assert (await subscribed(both, followed))["type"] == "subscribed"

        deleted = await admin.call("DELETE", f"/api/incidents/{slug}")
        assert deleted["removed"] == {
            "entries": 4,
            "events": 5,
            "revisions": 4,
            "submissions": 0,
            "idempotency_keys": 1,
            "partner_incidents": 1,
            "push_subscriptions": 1,
            "push_alerts": 1,  # the key event's
        }
        assert deleted["readers_told"] == 2
        assert await deleted_then_closed(reader, slug) == CloseCode.INCIDENT_DELETED
        # The connection that follows another incident is told, and reads on.
        assert json.loads(await asyncio.wait_for(both.recv(), 10)) == {"type": "deleted", "incident": slug}
        await editor.post(other, "Vinden ökar.")
        assert json.loads(await asyncio.wait_for(both.recv(), 10))["incident"] == other
        await both.close()

        anyone = httpx.AsyncClient(base_url=node.url, timeout=30)
        try:
            for path in (
                f"/i/{slug}",
                f"/i/{slug}/e/{ids[0]}",
                f"/i/{slug}/feed.atom",
                f"/embed/{slug}",
                f"/i/{slug}/viewers",
                f"/api/incidents/{slug}",
                f"/api/incidents/{slug}/entries",
                f"/oembed?url={node.url}/i/{slug}",
            ):
                answer = await anyone.get(path)
                assert answer.status_code == 410, path
                assert answer.json() == {"error": "gone", "message": "incident was deleted"}, path
            page = await anyone.get(f"/i/{slug}", headers=BROWSER)
            assert page.status_code == 410 and "Händelsen har tagits bort." in page.text
            english = await anyone.get(f"/i/{slug}/e/{ids[0]}?lang=en", headers=BROWSER)
            assert english.status_code == 410 and "This story has been removed." in english.text
            embed = await anyone.get(f"/embed/{slug}", headers=BROWSER)
            assert embed.status_code == 410 and "Händelsen har tagits bort." in embed.text
            cors = await anyone.get(f"/api/embed/{slug}", headers={"Origin": PARTNER})
            assert cors.status_code == 410 and cors.headers["access-control-allow-origin"] == PARTNER
            # SSE: EventSource cannot read a status, so the stream says it and ends as the socket does.
            stream = await anyone.get(f"/sse/{slug}?since=2")
            assert stream.status_code == 200
            assert f'data: {{"type":"deleted","incident":"{slug}"}}' in stream.text
            assert '"code": 4101' in stream.text
            # Lists, the front page and search drop it; its words are found nowhere.
            assert [i["slug"] for i in (await anyone.get("/api/incidents")).json()["incidents"]] == [other]
            front = (await anyone.get("/")).text
            assert "Storm över kusten" in front and "Brand i hamnen" not in front and slug not in front
            search = (await anyone.get("/search", params={"q": "lagerhuset"})).text
            assert "Lagerhuset" not in search and "Brand i hamnen" not in search
        finally:
            await anyone.aclose()
        # Writes are refused as gone; the retried post is not answered from its old stored answer.
        await editor.call("POST", f"/api/incidents/{slug}/entries", 410, json=retry, headers=key)
        await editor.call("PATCH", f"/api/incidents/{slug}", 410, json={"title": "Ny"})
        assert [p.incidents for p in await partners(node.services.store)] == [None, (other,)]  # gp, kommunen
        # A subscribe to it is told at once, and the socket ends: a page that reconnects is not kept waiting.
        late = await connect(node.ws_url)
        await late.send(json.dumps({"type": "subscribe", "incident": slug, "since": 3}))
        assert await deleted_then_closed(late, slug) == CloseCode.INCIDENT_DELETED
        # What stays is a tombstone that says nothing, and the audit log's who and when without the what.
        async with node.services.store.reading() as session:
            row = await session.scalar(select(Incident).where(Incident.slug == slug))
            assert row is not None
            assert (row.status, row.title, row.summary, row.photo_url, row.photo) == ("deleted", "", "", None, None)
            for table in (Entry, Event):
                assert await session.scalar(select(func.count()).where(table.incident_id == row.id)) == 0
            audit = list(await session.scalars(select(AuditRow).where(AuditRow.incident == slug).order_by(AuditRow.id)))
            assert audit[-1].kind == "incident.deleted" and json.loads(audit[-1].changes)["entries"] == [4, 0]
            assert [r.changes for r in audit[:-1]] == ["{}"] * (len(audit) - 1) and len(audit) > 4
        # Deleting it again changes nothing and says so.
        again = await admin.call("DELETE", f"/api/incidents/{slug}")
        assert set(again["removed"].values()) == {0}
        await editor.call("DELETE", f"/api/incidents/{other}", 403)


async def test_a_reader_on_another_node_is_told_and_the_broker_forgets_it(
    sqlite_url: str, redis_server: RedisServer
) -> None:
    settings = node_settings(sqlite_url, redis_server.url, node_history=4)
    async with running_node(settings) as a, running_node(settings) as b:
        editor = await a.reporter()
        admin = await a.reporter("ada", role="admin")
        slug, _ids = await story(a, editor)
        on_b = await connect(b.ws_url)
        assert (await subscribed(on_b, slug))["type"] == "subscribed"
        await eventually(lambda: redis_server.call(f"EXISTS ticker:incident:{slug}") == ":1")
        await eventually(lambda: a.notices.listening and b.notices.listening)
        await admin.call("DELETE", f"/api/incidents/{slug}")
        assert await deleted_then_closed(on_b, slug) == CloseCode.INCIDENT_DELETED
        assert redis_server.call(f"EXISTS ticker:incident:{slug}") == ":0"
        assert slug not in b.services.hub.topics  # its recent frames and snapshot with it
        for node in (a, b):
            async with httpx.AsyncClient(base_url=node.url) as client:
                assert (await client.get(f"/api/incidents/{slug}")).status_code == 410


async def test_the_relay_forgets_a_stream_it_refilled_for_an_incident_deleted_meanwhile(sqlite_url: str) -> None:
    """A relay that read an incident's events just before a takedown publishes them just after it: the stream
    the takedown removed would hold them again. Marking them published finds them gone, so it is removed again."""

    class Racing(MemoryBroker):
        async def publish(self, messages: Any) -> None:
            await super().publish(messages)
            await delete_incident(node.services.store, slug, Actor(None, "test"))  # lands between publish and mark

    async with running_node(node_settings(sqlite_url, relay_sweep_seconds=3600)) as node:  # the test's relay only
        editor = await node.reporter()
        slug, _ids = await story(node, editor)
        await node.services.store.write(_unpublished_post(slug))  # not through the API: no relay is woken
        broker = Racing()
        relay = Relay(node.services.store, broker)
        assert await relay.publish_pending() >= 1
        assert await broker.history(slug, 0, 100) == []


def _unpublished_post(slug: str) -> Any:
    from ticker.store.writes import Author, post_entry

    return post_entry(slug, Author(1, "Anna Svensson"), "<p>Rök.</p>", "12:00", False, False)


async def removed(page: Page, text: str) -> None:
    await expect(page.locator(".removed")).to_have_text(text)


async def test_an_open_reader_page_and_embed_show_the_incident_was_removed_and_stop(
    sqlite_url: str, browser: Browser
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        admin = await node.reporter("ada", role="admin")
        slug, _ids = await story(node, editor)
        context = await browser.new_context(locale="sv-SE")
        reader = await context.new_page()
        sockets: list[str] = []
        reader.on("websocket", lambda ws: sockets.append(ws.url))
        await reader.goto(f"{node.url}/i/{slug}")
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")
        embed = await context.new_page()
        await embed.goto(f"{node.url}/embed/{slug}?lang=en")
        await expect(embed.locator("ticker-live .conn")).to_have_attribute("data-state", "live")
        front = await context.new_page()
        await front.goto(f"{node.url}/")
        await expect(front.locator(f'.card[data-incident="{slug}"]')).to_be_visible()
        await expect(front.locator(".conn")).to_have_attribute("data-state", "live")

        await admin.call("DELETE", f"/api/incidents/{slug}")
        await removed(reader, "Händelsen har tagits bort av redaktionen.")
        await expect(reader.locator("h1")).to_have_count(0)  # nothing of it is left on the page
        await expect(reader.locator(".entry")).to_have_count(0)
        assert await reader.title() == "Händelsen har tagits bort av redaktionen. – Ticker"
        await removed(embed, "This story has been removed by the newsroom.")
        await expect(embed.locator("ticker-live .entry")).to_have_count(0)
        await expect(front.locator(f'.card[data-incident="{slug}"]')).to_have_count(0)
        # It stays so: no reconnect after the close (the first retry would come within a second).
        await reader.wait_for_timeout(2500)
        assert len(sockets) == 1
        await removed(reader, "Händelsen har tagits bort av redaktionen.")
        # Opened now, its address is the 410 page in the reader's language.
        answer = await reader.goto(f"{node.url}/i/{slug}?lang=en")
        assert answer is not None and answer.status == 410
        await expect(reader.locator("h1")).to_have_text("This story has been removed.")
        await context.close()
