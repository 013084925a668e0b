"""The poller against a local police-events server: conditional requests, each item stored once, changes
marked, and sources that fail alone, each failure one log line and a status in Swedish."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.node import Node, running_node
from tests.support.source_server import recorded, source_server
from tests.support.sources import add_source, admin, police_event, police_events, source_row, sources_settings, stored
from tests.support.waiting import eventually
from ticker.sources.model import Source, SourceItem
from ticker.sources.store import expire_items
from ticker.store.sql import Store, now


async def test_conditional_requests_and_each_event_stored_once_and_changes_marked(sqlite_url: str) -> None:
    async with source_server() as fixture, running_node(sources_settings(sqlite_url)) as node:
        fixture.answer("/api/events", recorded("polisen-events.json"))
        tool = await admin(node)
        await add_source(tool, "Polisen Södertälje", fixture.url("/api/events"), places=["Södertälje"])
        # Two of the three events are in Södertälje; the one in Göteborg is filtered out.
        await eventually(lambda: len(fixture.seen("/api/events")) >= 1)
        await eventually(lambda: _count(node, 2))
        first = fixture.seen("/api/events")[0]
        assert "if-none-match" not in first and "if-modified-since" not in first

        # Unchanged: every later request is conditional, each answered 304, and nothing new is stored.
        await eventually(lambda: len(fixture.seen("/api/events")) >= 3)
        answer = fixture.answers["/api/events"]
        for headers in fixture.seen("/api/events")[1:]:
            assert headers["if-none-match"] == answer.etag
            assert headers["if-modified-since"] == answer.last_modified
        items = await stored(node)
        assert [(i.external_id, i.revision, i.version) for i in items] == [("512297", 1, 1), ("512301", 1, 1)]

        # The same events again in a new answer (a new ETag): still stored once, nothing marked.
        fixture.answer("/api/events", police_events(*_events(), police_event(512302, "Ny händelse.", place="Göteborg")))
        polls = len(fixture.seen("/api/events"))
        await eventually(lambda: len(fixture.seen("/api/events")) >= polls + 2)
        assert [(i.external_id, i.revision) for i in await stored(node)] == [("512297", 1), ("512301", 1)]

        # The police change an event: updated in place and marked as changed.
        changed = police_event(512301, "Bilisten, en man i 30-årsåldern, misstänks för grovt vårdslös körning.")
        fixture.answer("/api/events", police_events(changed))
        await eventually(lambda: _revision(node, "512301", 2))
        items = {i.external_id: i for i in await stored(node)}
        assert items["512301"].summary.startswith("Bilisten, en man")
        assert items["512301"].changed_at is not None
        assert items["512297"].revision == 1  # gone from the answer, still kept
        source = await source_row(node, "Polisen Södertälje")
        assert source.last_error is None and source.failures == 0


def _events() -> list[dict[str, object]]:
    return list(json.loads(recorded("polisen-events.json")))


async def _count(node: Node, count: int) -> bool:
    return len(await stored(node)) == count


async def _revision(node: Node, external_id: str, revision: int) -> bool:
    items = {i.external_id: i for i in await stored(node)}
    return external_id in items and items[external_id].revision == revision


async def test_failing_sources_say_so_and_the_others_keep_working(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ticker")
    settings = sources_settings(sqlite_url, fetch_timeout_seconds=1.0, fetch_max_bytes=256 * 1024)
    async with source_server() as fixture, running_node(settings) as node:
        fixture.answer("/ok", recorded("polisen-events.json"))
        fixture.answer("/slow", recorded("polisen-events.json"), delay=5.0)
        fixture.answer("/broken", b"<html>Internal Server Error</html>", status=500, content_type="text/html")
        fixture.answer("/garbage", b'[{"id": 1, "name": "halv')
        fixture.answer("/huge", endless=True)
        tool = await admin(node)
        for name in ("ok", "slow", "broken", "garbage", "huge"):
            await add_source(tool, name, fixture.url(f"/{name}"))
        expected = {
            "slow": "Servern svarade inte inom 1 sekunder.",
            "broken": "Servern har fel just nu (HTTP 500). Vi försöker igen.",
            "garbage": "Svaret gick inte att läsa",
            "huge": "Svaret var för stort (mer än 256 kB) och lästes inte.",
        }

        async def all_failed() -> bool:
            sources = {s["name"]: s for s in (await tool.call("GET", "/api/sources"))["sources"]}
            return all((sources[n]["last_error"] or "").startswith(text) for n, text in expected.items())

        await eventually(all_failed)
        sources = {s["name"]: s for s in (await tool.call("GET", "/api/sources"))["sources"]}
        assert sources["ok"]["last_error"] is None and sources["ok"]["last_ok_at"] is not None
        assert sources["ok"]["items"] == 3
        for name in expected:
            assert sources[name]["last_ok_at"] is None and sources[name]["items"] == 0
        # The good source goes on being asked while the others fail.
        asked = len(fixture.seen("/ok"))
        await eventually(lambda: len(fixture.seen("/ok")) > asked)
    # One WARNING line per failed poll (counted once the node has stopped: no poll is half done), none for the
    # good source.
    store = Store(sqlite_url)
    async with store.reading() as session:
        failures = {s.name: s.failures for s in await session.scalars(select(Source)) if s.name in expected}
    await store.close()
    lines = [r for r in caplog.records if r.getMessage().startswith("event=source_failed")]
    assert all(r.levelno == logging.WARNING for r in lines)
    for name, count in failures.items():
        assert count >= 1
        assert len([r for r in lines if f" source={name} " in r.getMessage()]) == count, name
    assert not [r for r in lines if " source=ok " in r.getMessage()]


async def test_limits_bad_input_and_retention(sqlite_url: str) -> None:
    settings = sources_settings(sqlite_url, sources_max=2, sources_min_interval_seconds=30, sources_keep_hours=1)
    async with source_server() as fixture, running_node(settings) as node:
        fixture.answer("/api/events", recorded("polisen-events.json"))  # events of a day long past
        tool = await admin(node)
        first = await add_source(tool, "Polisen", fixture.url("/api/events"))
        assert (first["interval_seconds"], first["effective_interval_seconds"]) == (1, 30)  # never below the floor
        await add_source(tool, "Andra", fixture.url("/other"))
        body = {"name": "Tredje", "kind": "polisen", "url": fixture.url("/x")}
        refused = await tool.call("POST", "/api/sources", 409, json=body)
        assert refused["field"] == "name" and "at most 2 sources" in refused["message"]
        bad = await tool.call("POST", "/api/sources", 422, json={**body, "kind": "twitter"})
        assert bad["field"] == "kind"
        bad = await tool.call("POST", "/api/sources", 422, json={**body, "url": "file:///etc/passwd"})
        assert bad["field"] == "url"
        editor = await node.reporter("redaktor", role="editor")
        await editor.call("POST", "/api/sources", 403, json=body)
        # Older than TICKER_SOURCES_KEEP_HOURS: the answer is read, and nothing of it is kept.
        await eventually(lambda: _answered(node, "Polisen"))
        assert await stored(node) == []


async def _answered(node: Node, name: str) -> bool:
    return (await source_row(node, name)).last_ok_at is not None


async def test_items_past_the_retention_time_are_deleted(sqlite_url: str) -> None:
    async with source_server() as fixture, running_node(sources_settings(sqlite_url)) as node:
        fixture.answer("/api/events", police_events(police_event(700001, "Kvar."), police_event(700002, "Gammal.")))
        await add_source(await admin(node), "Polisen", fixture.url("/api/events"))
        await eventually(lambda: _stored_count(node, 2))
        keep = timedelta(hours=node.services.settings.sources_keep_hours)
        # One item has been kept for longer than the retention time (its time moved back, as if it had been).
        async with node.services.store.writing() as session:
            long_ago = now() - keep - timedelta(days=1)
            await session.execute(update(SourceItem).where(SourceItem.external_id == "700002").values(kept_at=long_ago))
        assert await expire_items(node.services.store, now() - keep) == 1
        assert [item.summary for item in await stored(node)] == ["Kvar."]


async def _stored_count(node: Node, count: int) -> bool:
    return len(await stored(node)) == count
