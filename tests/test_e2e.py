"""End to end: a real uvicorn node, a real websocket reader, the reporter API; embedded and Redis mode."""

from __future__ import annotations

import pytest

from tests.support.live import LiveReader
from tests.support.node import node_settings, running_node


@pytest.fixture(params=["sqlite+memory", "postgres+redis"])
def mode(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "sqlite+memory":
        return request.getfixturevalue("sqlite_url"), None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_server").url


async def test_reader_receives_every_change_in_order_and_folds_to_the_stored_state(
    mode: tuple[str, str | None],
) -> None:
    database_url, redis_url = mode
    async with running_node(node_settings(database_url, redis_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident("Polisjakt genom centrum", summary="En bil flydde.", category="Blåljus")
        reader = await LiveReader.open(node.ws_url)
        subscribed = await reader.subscribe(slug, since=0)
        assert subscribed["seq"] == 1  # the incident's creation

        first = await reporter.post(slug, "<p>Polisen larmades 22:37.</p>", label="22:37")
        second = await reporter.post(slug, "Två bilar deltar i jakten.", label="22:45")
        third = await reporter.post(slug, "<p>Bilen <b>stoppad</b>.</p>", label="23:00", key_event=True)
        base = f"/api/incidents/{slug}/entries"
        await reporter.call("PATCH", f"{base}/{first['entry']['id']}", json={"body": "<p>Polisen larmades 22:38.</p>"})
        await reporter.call("POST", f"{base}/{second['entry']['id']}/retract", json={"correction": "Fel uppgift."})
        pinned = await reporter.call("POST", f"{base}/{third['entry']['id']}/pin")
        assert pinned["seq"] == 7

        folded = await reader.follow(slug, upto=7)
        assert [e["event"] for e in folded.events] == [
            "incident.updated",
            "entry.posted",
            "entry.posted",
            "entry.posted",
            "entry.edited",
            "entry.retracted",
            "entry.pinned",
        ]
        assert [e["seq"] for e in folded.events] == list(range(1, 8))
        assert await reader.silent()
        assert folded.state() == await reporter.state(slug)
        assert folded.entries[second["entry"]["id"]]["body"] == ""
        assert folded.entries[first["entry"]["id"]]["edited_at"] is not None
        await reader.close()
        await reporter.aclose()


async def test_resume_after_a_disconnect_sends_exactly_the_missed_events(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=0)
        await reporter.post(slug, "Första.")
        held = (await reader.follow(slug, upto=2)).seq
        await reader.close()

        missed = [await reporter.post(slug, f"Uppdatering {n}.") for n in range(5)]

        again = await LiveReader.open(node.ws_url)
        await again.subscribe(slug, since=held)
        folded = await again.follow(slug, upto=held + 5)
        assert [e["seq"] for e in folded.events] == [m["seq"] for m in missed] == list(range(3, 8))
        assert [e["data"]["entry"]["id"] for e in folded.events] == [m["entry"]["id"] for m in missed]
        assert await again.silent()
        await again.close()
        await reporter.aclose()


async def test_subscribe_without_since_gets_only_new_events(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        await reporter.post(slug, "Före.")
        reader = await LiveReader.open(node.ws_url)
        subscribed = await reader.subscribe(slug)
        assert subscribed["seq"] == 2
        reader.folded[slug].seq = 2
        after = await reporter.post(slug, "Efter.")
        folded = await reader.follow(slug, upto=3)
        assert [e["data"]["entry"]["id"] for e in folded.events] == [after["entry"]["id"]]
        await reader.close()
        await reporter.aclose()


async def test_a_reader_from_another_epoch_gets_a_snapshot(sqlite_url: str) -> None:
    """The database the reader's state came from was replaced: its seq means nothing here, so no events."""
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        await reporter.post(slug, "Ett.")
        reader = await LiveReader.open(node.ws_url)
        subscribed = await reader.subscribe(slug, since=1, epoch="someone-else")
        assert subscribed["epoch"] != "someone-else"
        snapshot = await reader.receive()
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == 2
        assert snapshot["data"]["incident"]["epoch"] == subscribed["epoch"]
        assert [e["body"] for e in snapshot["data"]["entries"]] == ["<p>Ett.</p>"]
        await reader.close()
