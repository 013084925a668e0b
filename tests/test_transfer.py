"""An incident out and back in (issue #14, part D): export it as a file, delete it, import the file, and have the
incident again as it was, on SQLite and PostgreSQL; over the API and with `ticker incident export/import`."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_ticker, ticker
from tests.support.live import LiveReader
from tests.support.node import Node, Reporter, node_settings, running_node
from ticker.sanitize import clean_html
from ticker.store.accounts import user_by_name
from ticker.store.sql import Store
from ticker.store.writes import Author, author_of, create_incident, post_entry, update_incident


async def busy_incident(node: Node, editor: Reporter) -> str:
    """An incident with everything an export must carry: a lead photo, key events, a pin, edits, retractions with
    and without a correction, a contributor's approved, pending and rejected posts, and a close and reopen."""
    slug = await editor.incident(
        "Brand i hamnen",
        summary="Räddningstjänsten släcker en brand i ett lagerhus.",
        category="Brand",
        location="Göteborg",
        photo_url="https://bilder.example/hamnen.jpg",
        photo_credit="Foto: Lisa Berg",
    )
    base = f"/api/incidents/{slug}/entries"
    first = (await editor.post(slug, "Rök syns över <strong>hamnen</strong>.", label="21:02", key_event=True))["entry"]
    second = (await editor.post(slug, "Vägen är avstängd.\n\nUndvik området.", label="21:10"))["entry"]
    third = (await editor.post(slug, "Två personer evakuerade.", label="21:15"))["entry"]
    fourth = (await editor.post(slug, "Fel uppgift.", label="21:20"))["entry"]
    await editor.call("PATCH", f"{base}/{second['id']}", json={"body": "Vägen är avstängd i båda riktningarna."})
    await editor.call("POST", f"{base}/{third['id']}/retract", json={"correction": "Ingen evakuerades."})
    await editor.call("POST", f"{base}/{fourth['id']}/retract")
    await editor.call("POST", f"{base}/{first['id']}/pin")
    await editor.post(slug, "Branden är under kontroll.", label="22:30", key_event=True, pinned=True)
    # An entry with a link card, as the card service made it (tests/test_link_cards.py makes them for real).
    anna = await user_by_name(node.services.store, "anna0")
    body = clean_html(f"Se klippet:\n\n{CARD['url']}")  # as the API cleans a post's body
    await node.services.store.write(post_entry(slug, author_of(anna), body, "22:40", False, False, cards=[CARD]))
    # Uploaded photos (ticker.media.photos): one in an entry, and the lead photo that replaces photo_url.
    await node.services.store.write(
        post_entry(slug, author_of(anna), "<p>Rök över hamnen.</p>", "22:45", False, False, photos=[photo("b")])
    )
    await node.services.store.write(update_incident(slug, {"photo": photo("c")}))
    contributor = await node.reporter("cia", role="contributor")
    sent = [
        (await contributor.call("POST", base, 202, json={"body": text}))["submission"]["id"]
        for text in ("Tips: brandbilar vid kajen.", "Ett tips till.", "Ett tredje.")
    ]
    submissions = f"/api/incidents/{slug}/submissions"
    await editor.call("POST", f"{submissions}/{sent[0]}/approve")
    await editor.call("POST", f"{submissions}/{sent[1]}/reject", json={"reason": "Obekräftat."})
    await editor.call("POST", f"/api/incidents/{slug}/close")
    await editor.call("POST", f"/api/incidents/{slug}/reopen")
    return slug


CARD = {
    "url": "https://www.youtube.com/watch?v=abc123",
    "provider": "youtube",
    "provider_name": "YouTube",
    "title": "Branden i hamnen från ovan",
    "author": "SVT Nyheter",
    "thumbnail": {"url": "/media/" + "a" * 64 + ".jpg", "width": 480, "height": 360},
    "player": "https://www.youtube-nocookie.com/embed/abc123",
}


def photo(digit: str) -> dict[str, Any]:
    """An uploaded photo as an entry or an incident carries it (ticker.media.photos.photo_json)."""
    jpeg = f"/media/{digit * 64}.jpg"
    return {
        "id": f"ph_{digit * 12}",
        "alt": "Rök stiger över lagerhusen i hamnen.",
        "credit": "Lisa Berg",
        "caption": None,
        "width": 1600,
        "height": 1067,
        "src": jpeg,
        "files": [{"url": jpeg, "type": "image/jpeg", "width": 1024, "height": 683}],
    }


async def everything(node: Node, reader: Reporter, slug: str) -> dict[str, Any]:
    """What readers see (the incident and every entry), every event as readers were sent it, and the desk's view
    of submissions and each entry's history."""
    state = await reader.state(slug)
    store = node.services.store
    events = [json.loads(m.payload) for m in await store.events_after(slug, 0)]
    submissions = (await reader.call("GET", f"/api/incidents/{slug}/submissions"))["submissions"]
    history = {
        entry_id: (await reader.call("GET", f"/api/incidents/{slug}/entries/{entry_id}/history"))["history"]
        for entry_id in state["entries"]
    }
    return {**state, "events": events, "submissions": submissions, "history": history}


def without_epoch(found: dict[str, Any]) -> dict[str, Any]:
    """The same, with the incident's epoch left out wherever it shows (an import starts a new one, on purpose)."""
    text = json.dumps(found, sort_keys=True)
    epoch = found["incident"]["epoch"]
    assert len(epoch) >= 8 and text.count(epoch) >= 1
    return json.loads(text.replace(epoch, "EPOCH"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


async def test_export_delete_import_gives_the_incident_back_as_it_was(database_url: str) -> None:
    async with running_node(node_settings(database_url)) as node:
        editor = await node.reporter()
        admin = await node.reporter("ada", role="admin")
        slug = await busy_incident(node, editor)
        before = await everything(node, editor, slug)
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        assert [e["seq"] for e in exported["events"]] == list(range(1, before["seq"] + 1))
        assert exported["media"] == [
            {"kind": "photo", "url": photo("c")["src"], "credit": "Lisa Berg"},  # the lead photo
            {"kind": "photo", "url": photo("b")["src"], "credit": "Lisa Berg"},
            {"kind": "card_thumbnail", "url": CARD["thumbnail"]["url"], "credit": None},
        ]
        assert exported["incident"]["photo"] == photo("c") and exported["incident"]["photo_url"] is None
        assert [e["cards"] for e in exported["entries"] if e["cards"]] == [[CARD]]
        assert [e["photos"] for e in exported["entries"] if e["photos"]] == [[photo("b")]]
        retracted = [e for e in exported["entries"] if e["retracted"]]
        assert {e["body"] for e in retracted} == {"<p>Två personer evakuerade.</p>", "<p>Fel uppgift.</p>"}

        deleted = await admin.call("DELETE", f"/api/incidents/{slug}")
        assert deleted["removed"]["entries"] == len(before["entries"])
        assert deleted["removed"]["events"] == before["seq"]
        await editor.call("GET", f"/api/incidents/{slug}", 410)

        imported = await admin.call("POST", "/api/incidents/import", 201, params={"restore": "true"}, json=exported)
        assert (imported["slug"], imported["seq"], imported["entry_ids"]) == (slug, before["seq"], "kept")
        after = await everything(node, editor, slug)
        assert after["incident"]["epoch"] != before["incident"]["epoch"]
        assert without_epoch(after) == without_epoch(before)
        again = await editor.call("GET", f"/api/incidents/{slug}/export")
        for file in (exported, again):
            file.pop("exported_at")
        assert without_epoch(again) == without_epoch(exported)

        # The incident lives on: a reader who follows it gets the next post (the broker's stream starts anew).
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=after["seq"])
        posted = await editor.post(slug, "Efterarbete pågår.")
        folded = await reader.follow(slug, upto=after["seq"] + 1)
        assert folded.entries[posted["entry"]["id"]]["body"] == "<p>Efterarbete pågår.</p>"
        # A reader who held the old history (its epoch) is given a snapshot, not events that no longer fit.
        stale = await LiveReader.open(node.ws_url)
        await stale.subscribe(slug, since=3, epoch=before["incident"]["epoch"])
        assert (await stale.receive())["type"] == "snapshot"
        for socket in (reader, stale):
            await socket.close()


async def test_an_import_elsewhere_renumbers_taken_ids_and_keeps_their_order(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await busy_incident(node, editor)
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        before = await everything(node, editor, slug)
        copy = await editor.call("POST", "/api/incidents/import", 201, params={"slug": "kopia"}, json=exported)
        assert copy["entry_ids"] == "new"
        after = await everything(node, editor, "kopia")
        old, new = sorted(before["entries"]), sorted(after["entries"])
        assert len(new) == len(old) and min(new) > max(old)
        renumbered = dict(zip(old, new, strict=True))
        for old_id, new_id in renumbered.items():
            was, now = before["entries"][old_id], after["entries"][new_id]
            assert {**was, "id": new_id, "incident": "kopia"} == now
        # Events name the new ids, in the same order, and the submission its entry.
        assert [e["data"].get("entry", {}).get("id") for e in after["events"]] == [
            renumbered.get(e["data"].get("entry", {}).get("id")) for e in before["events"]
        ]
        copied = await editor.call("GET", "/api/incidents/kopia/export")
        made = [(s["status"], s["entry_id"]) for s in copied["submissions"]]
        assert made == [(s["status"], renumbered.get(s["entry_id"])) for s in exported["submissions"]]
        assert ("approved", renumbered[exported["submissions"][0]["entry_id"]]) in made
        # The original is untouched, and a second import is refused: an import never replaces or merges.
        assert await everything(node, editor, slug) == before
        twice = await editor.http.post("/api/incidents/import", params={"slug": "kopia"}, json=exported)
        assert twice.status_code == 409 and twice.json()["field"] == "slug"
        assert len((await editor.state("kopia"))["entries"]) == len(new)


async def test_a_deleted_address_is_taken_back_only_by_an_admins_deliberate_import(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        admin = await node.reporter("ada", role="admin")
        slug = await editor.incident("Storm över kusten")
        await editor.post(slug, "Vinden ökar.")
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        await admin.call("DELETE", f"/api/incidents/{slug}")
        # Not by opening a new incident with the same title or slug, not by a plain import.
        again = await editor.call("POST", "/api/incidents", 201, json={"title": "Storm över kusten"})
        assert again["incident"]["slug"] == f"{slug}-2"
        taken = await editor.http.post("/api/incidents", json={"title": "Storm", "slug": slug})
        assert taken.status_code == 409 and "deleted" in taken.json()["message"]
        plain = await admin.http.post("/api/incidents/import", json=exported)
        assert plain.status_code == 409 and plain.json()["field"] == "slug" and "restore" in plain.json()["message"]
        refused = await editor.http.post("/api/incidents/import", params={"restore": "true"}, json=exported)
        assert refused.status_code == 403 and refused.json()["field"] == "restore"
        await editor.call("GET", f"/api/incidents/{slug}", 410)
        await admin.call("POST", "/api/incidents/import", 201, params={"restore": "true"}, json=exported)
        assert (await editor.state(slug))["incident"]["title"] == "Storm över kusten"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f["events"].pop(), "events"),  # the last event missing: seq says there are more
        (lambda f: f["events"][0].update(seq=5), "events.0.seq"),
        (lambda f: f["events"][1]["data"]["entry"].update(id=999), "events.1.data.entry.id"),
        (lambda f: f["events"][1].update(data={"incident": f["events"][0]["data"]["incident"]}), "events.1.data"),
        (lambda f: f["entries"][0].update(body="<script>alert(1)</script>"), "entries.0.body"),
        (lambda f: f["entries"][0].update(label="\u202eTTT"), "entries.0.label"),
        (lambda f: f["incident"].update(created_at="2026-05-07T20:37:00"), "incident.created_at"),
        (lambda f: f.update(ticker_incident=2), "ticker_incident"),
        (lambda f: f["incident"].update(title=7), "incident.title"),
    ],
)
async def test_a_bad_file_is_refused_naming_the_field_and_imports_nothing(
    sqlite_url: str, change: Any, field: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över kusten")
        await editor.post(slug, "Vinden ökar.")
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        change(exported)
        refused = await editor.http.post("/api/incidents/import", params={"slug": "ny"}, json=exported)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
        await editor.call("GET", "/api/incidents/ny", 404)


async def test_an_event_body_is_sanitised_again_on_the_way_in(sqlite_url: str) -> None:
    """A file carries the HTML readers are sent in its events too: it is cleaned like an entry's body."""
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över kusten")
        await editor.post(slug, "Vinden ökar.")
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        exported["events"][1]["data"]["entry"]["body"] = '<p onclick="steal()">Vinden ökar.</p><script>x()</script>'
        await editor.call("POST", "/api/incidents/import", 201, params={"slug": "ny"}, json=exported)
        [event] = await node.services.store.events_after("ny", 1)
        assert json.loads(event.payload)["data"]["entry"]["body"] == "<p>Vinden ökar.</p>"


async def test_the_import_route_takes_a_larger_body_up_to_its_own_limit(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, max_body_bytes=2048, import_max_bytes=64 * 1024)
    async with running_node(settings) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över kusten")
        for n in range(12):
            await editor.post(slug, f"Uppdatering {n}: " + "vinden ökar " * 10)
        exported = await editor.call("GET", f"/api/incidents/{slug}/export")
        assert 2048 < len(json.dumps(exported)) < 64 * 1024
        await editor.call("POST", "/api/incidents/import", 201, params={"slug": "ny"}, json=exported)
        await editor.call("POST", "/api/incidents", 413, json={"title": "x" * 3000})
        exported["incident"]["summary"] = "å" * 2000
        exported["entries"][0]["history"] *= 200
        too_big = await editor.http.post("/api/incidents/import", params={"slug": "nyare"}, json=exported)
        assert too_big.status_code == 413 and str(64 * 1024) in too_big.json()["message"]


def test_the_cli_exports_and_imports_with_progress(tmp_path: Path) -> None:
    """`ticker incident export SLUG > f.json` and `ticker incident import f.json`, straight to the database,
    telling progress in batches (TICKER_TRANSFER_BATCH) for an incident bigger than one."""
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db", "TICKER_TRANSFER_BATCH": "5"}
    ticker("db", "upgrade", env=env)
    ticker("user", "add", "anna", "--display-name", "Anna Svensson", "--role", "editor", "--no-password", env=env)
    slug = "storm"

    async def fill() -> None:
        store = Store(env["TICKER_DATABASE_URL"])
        try:
            anna = await user_by_name(store, "anna")
            await store.write(create_incident(slug, {"title": "Storm över kusten"}))
            for n in range(12):
                await store.write(
                    post_entry(slug, Author(anna.id, "Anna Svensson"), f"<p>Nr {n}</p>", "12:00", False, False)
                )
        finally:
            await store.close()

    asyncio.run(fill())
    target = tmp_path / "storm.json"
    with target.open("w") as out:
        done = run_ticker("incident", "export", slug, env={**env, "LANG": "C"}, stdout=out, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    assert "entries: 5/12" in done.stderr and "entries: 12/12" in done.stderr and "events: 10/13" in done.stderr
    exported = json.loads(target.read_text())
    assert [e["body"] for e in exported["entries"]] == [f"<p>Nr {n}</p>" for n in range(12)]

    command = ("incident", "import", str(target), "--slug", "storm-kopia")
    imported = run_ticker(*command, env={**env, "LANG": "sv_SE.UTF-8"})
    assert "storm-kopia importerad: 12 inlägg, 13 händelser" in imported.stdout, imported.stderr
    assert "inlägg: 10/12" in imported.stderr and "händelser: 13/13" in imported.stderr
    again = run_ticker(*command, env={**env, "LANG": "C"})
    assert again.returncode == 1 and "'storm-kopia' exists" in again.stderr
    copy = json.loads(ticker("incident", "export", "storm-kopia", env=env))
    assert [e["body"] for e in copy["entries"]] == [e["body"] for e in exported["entries"]]
