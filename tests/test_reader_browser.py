"""The reader's live page in Chromium (issue 5, "Must show"): live changes, the new-updates bar, a restart, the
SSE fallback, no JavaScript, the front page. (The screenshots in docs/screenshots/ are taken by
tests/test_accessibility.py, of every page.)"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, Request, WebSocketRoute, expect

from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.services import RedisServer, ServerProcess
from ticker.errors import CloseCode

expect.set_options(timeout=15_000)
PHONE = {"width": 390, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


async def open_live(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> Page:
    page = await browser.new_page(viewport=viewport, locale="sv-SE")  # type: ignore[arg-type]
    await page.goto(url)
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
    return page


async def test_posts_edits_retractions_and_pins_appear_in_the_open_page(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident("Brand i hamnen", category="Blåljus", summary="Ett lager brinner.")
        page = await open_live(browser, f"{node.url}/i/{slug}")
        await page.evaluate("window.sameDocument = true")
        entries = page.locator(".entries > .entry")
        keys = page.locator(".key-events li")
        base = f"/api/incidents/{slug}/entries"

        first = (await editor.post(slug, "Räddningstjänsten är på plats.", label="22:40"))["entry"]
        await expect(page.locator(f"#entry-{first['id']} .body")).to_have_text("Räddningstjänsten är på plats.")
        await expect(page.locator(f"#entry-{first['id']} .label")).to_have_text("Uppdatering 22:40")
        await expect(page.locator(f"#entry-{first['id']} .author")).to_have_text("Anna Svensson")
        await expect(page.locator("#announcer")).to_have_text("Ny uppdatering 22:40: Räddningstjänsten är på plats.")
        await expect(page.locator(".empty")).to_be_hidden()

        key = (await editor.post(slug, "Vägen mot hamnen är avstängd.", label="22:45", key_event=True))["entry"]
        await expect(entries).to_have_count(2)
        await expect(entries.first).to_have_id(f"entry-{key['id']}")  # newest first
        await expect(keys).to_have_text(["22:45 Vägen mot hamnen är avstängd."])
        await expect(keys.locator("a")).to_have_attribute("href", f"#entry-{key['id']}")

        await editor.call("PATCH", f"{base}/{first['id']}", json={"body": "Branden är under kontroll."})
        await expect(page.locator(f"#entry-{first['id']} .body")).to_have_text("Branden är under kontroll.")
        await expect(page.locator(f"#entry-{first['id']} .edited")).to_have_text(re.compile(r"^Uppdaterad \d\d:\d\d$"))
        await editor.call("PATCH", f"{base}/{key['id']}", json={"label": "22:46"})
        await expect(keys).to_have_text(["22:46 Vägen mot hamnen är avstängd."])  # the box follows edits

        await editor.call("POST", f"{base}/{first['id']}/pin")
        await expect(entries.first).to_have_id(f"entry-{first['id']}")
        await expect(page.locator(f"#entry-{first['id']} .pin-mark")).to_have_text("Fäst")
        pinned = (await editor.post(slug, "Viktigt: håll fönster stängda.", label="22:50", pinned=True))["entry"]
        await expect(entries.first).to_have_id(f"entry-{pinned['id']}")
        await expect(page.locator(f"#entry-{first['id']} .pin-mark")).to_be_hidden()  # unpinned by the new pin
        await expect(entries.nth(1)).to_have_id(f"entry-{key['id']}")  # back in its place, newest first
        await expect(entries.nth(2)).to_have_id(f"entry-{first['id']}")

        await editor.call("POST", f"{base}/{key['id']}/retract", json={"correction": "Vägen var aldrig avstängd."})
        await expect(page.locator(f"#entry-{key['id']} .body")).to_have_text("Vägen var aldrig avstängd.")
        await expect(page.locator(".key-events")).to_be_hidden()  # its only key event is gone
        await editor.call("POST", f"{base}/{first['id']}/retract", json={})
        await expect(page.locator(f"#entry-{first['id']}")).to_have_count(0)  # retracted without a note: gone
        await expect(entries).to_have_count(2)

        await editor.call("PATCH", f"/api/incidents/{slug}", json={"title": "Storbrand i hamnen"})
        await expect(page.locator("h1.title")).to_have_text("Storbrand i hamnen")
        photo = {"photo_url": "https://bilder.example/hamnen.jpg", "photo_credit": "Eva Svensson"}
        await editor.call("PATCH", f"/api/incidents/{slug}", json=photo)  # a photo chosen while the page is open
        await expect(page.locator(".photo img")).to_have_attribute("src", photo["photo_url"])
        await expect(page.locator(".photo figcaption")).to_have_text("Foto: Eva Svensson")
        await editor.call("PATCH", f"/api/incidents/{slug}", json={"photo_url": None, "photo_credit": None})
        await expect(page.locator(".photo")).to_be_hidden()
        await editor.call("POST", f"/api/incidents/{slug}/close")
        await expect(page.locator(".badge")).to_have_text("Avslutad")
        served = (await editor.http.get(f"/i/{slug}", headers={"Accept-Language": "sv"})).text
        stamp = re.search(r'<time class="updated" datetime="[^"]+">([^<]+)</time>', served)
        assert stamp is not None
        await expect(page.locator(".updated")).to_have_text(stamp.group(1))  # Intl in the page agrees with Babel
        assert await page.evaluate("window.sameDocument") is True  # never reloaded
        await page.close()


async def test_new_updates_bar_counts_and_brings_them_in_on_a_click(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, page_entries=10)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Polisjakt genom centrum")
        text = "Polisen uppger att bilen setts vid resecentrum och ber allmänheten om tips. " * 3
        for n in range(12):
            await editor.post(slug, f"{n}. {text}", label=f"21:{n:02}")
        page = await open_live(browser, f"{node.url}/i/{slug}", PHONE)
        entries = page.locator(".entries > .entry")
        await expect(entries).to_have_count(10)
        await page.evaluate("scrollTo(0, document.body.scrollHeight)")
        bar = page.locator(".new-bar")

        news = [(await editor.post(slug, f"Ny uppgift {n}.", label=f"22:0{n}"))["entry"] for n in range(3)]
        await expect(bar).to_have_text("3 nya uppdateringar")
        await expect(page.locator("#announcer")).to_have_text("3 nya uppdateringar")
        await expect(entries).to_have_count(10)  # held back: nothing moves under the reader
        await editor.call("PATCH", f"/api/incidents/{slug}/entries/{news[0]['id']}", json={"body": "Rättad uppgift."})
        await expect(bar).to_have_text("3 nya uppdateringar")  # an edit of a held entry is no new update

        await bar.click()
        await expect(bar).to_be_hidden()
        await expect(entries).to_have_count(13)
        for position, new in enumerate(reversed(news)):
            await expect(entries.nth(position)).to_have_id(f"entry-{new['id']}")
        await expect(page.locator(f"#entry-{news[0]['id']} .body")).to_have_text("Rättad uppgift.")
        await expect(entries.first).to_be_focused()

        await page.locator(".more").click()  # older entries on demand, through the cursor API
        await expect(entries).to_have_count(15)
        await expect(page.locator(".more")).to_have_count(0)
        await expect(entries.last).to_contain_text("0. Polisen uppger")
        await page.close()


async def test_a_restart_shows_reconnecting_then_live_and_missed_entries_appear_once(
    browser: Browser, tmp_path: Path, redis_server: RedisServer
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/ticker.db"
    env = {"TICKER_DATABASE_URL": database_url, "TICKER_REDIS_URL": redis_server.url}
    # The reader's node is a real `ticker serve` process, restarted; reporters post through another node.
    async with running_node(node_settings(database_url, redis_server.url)) as other:
        reporter = await other.reporter()
        restarted = ServerProcess(tmp_path, env)
        await asyncio.to_thread(restarted.start)
        try:
            slug = await reporter.incident("Strömavbrott i Malmö")
            before = (await reporter.post(slug, "Före omstarten."))["entry"]
            page = await open_live(browser, f"{restarted.url}/i/{slug}")
            entries = page.locator(".entries > .entry")
            await expect(entries).to_have_count(1)
            conn = page.locator(".conn")

            await asyncio.to_thread(restarted.stop)
            await expect(conn).to_have_attribute("data-state", "reconnecting")
            await expect(conn).to_have_text("Återansluter…")
            meanwhile = [(await reporter.post(slug, f"Under omstarten {n}."))["entry"] for n in range(2)]
            await asyncio.to_thread(restarted.start)
            await expect(conn).to_have_attribute("data-state", "live")
            await expect(conn).to_have_text("Live")
            after = (await reporter.post(slug, "Efter omstarten."))["entry"]

            await expect(entries).to_have_count(4)
            for posted in [before, *meanwhile, after]:
                await expect(page.locator(f"#entry-{posted['id']}")).to_have_count(1)
            assert await entries.evaluate_all("els => els.map(e => e.id)") == [
                f"entry-{e['id']}" for e in reversed([before, *meanwhile, after])
            ]
            await page.close()
        finally:
            await asyncio.to_thread(restarted.stop)


async def without_websockets(browser: Browser) -> tuple[Page, list[Request]]:
    """A page behind a proxy that will not pass websockets (the socket never opens), and its SSE requests."""
    page = await browser.new_page(locale="sv-SE")

    async def refuse(ws: WebSocketRoute) -> None:
        await ws.close()

    await page.route_web_socket("**/live", refuse)
    streams: list[Request] = []
    page.on("request", lambda r: streams.append(r) if "/sse" in r.url else None)
    return page, streams


async def test_blocked_websockets_fall_back_to_sse_which_resumes_with_last_event_id(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Översvämning i Gävle")
        await editor.post(slug, "Vattnet stiger.")
        page, streams = await without_websockets(browser)
        await page.goto(f"{node.url}/i/{slug}")
        await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(page.locator("#incident")).to_have_attribute("data-transport", "sse")
        entries = page.locator(".entries > .entry")

        posted = [(await editor.post(slug, f"Uppdatering {n} via SSE."))["entry"] for n in range(3)]
        await editor.call("PATCH", f"/api/incidents/{slug}/entries/{posted[0]['id']}", json={"body": "Rättad."})
        await expect(entries).to_have_count(4)
        await expect(page.locator(f"#entry-{posted[0]['id']} .body")).to_have_text("Rättad.")

        # The server ends the stream (as it does for a reader that is too slow); the browser reconnects by itself
        # with Last-Event-ID, and what was posted meanwhile arrives once.
        seq = int(await page.locator("#incident").get_attribute("data-seq") or 0) + 4  # incident, 3 posts, edit
        for reader in list(node.services.hub.readers):
            reader.sink.close(CloseCode.SESSION_ENDED, "test: resume")
        missed = [(await editor.post(slug, f"Medan strömmen bröts {n}."))["entry"] for n in range(2)]
        await expect(entries).to_have_count(6)
        for new in missed:
            await expect(page.locator(f"#entry-{new['id']}")).to_have_count(1)
        assert len(streams) >= 2
        assert await streams[1].header_value("last-event-id") == str(seq)
        assert "/live" not in [r.url for r in streams]
        await page.close()


async def test_a_reader_back_online_reconnects_at_once_instead_of_after_its_backoff(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        page = await browser.new_page(locale="sv-SE")
        await page.clock.install()
        await page.goto(f"{node.url}/i/{slug}")
        conn = page.locator(".conn")
        await expect(conn).to_have_attribute("data-state", "live")
        await page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))  # no timer fires from here on
        for reader in list(node.services.hub.readers):
            reader.sink.close(CloseCode.SERVICE_RESTART, "service restart")
        await expect(conn).to_have_attribute("data-state", "reconnecting")  # waiting out a backoff that never ends
        await page.evaluate("dispatchEvent(new Event('online'))")  # as the browser does when the network is back
        await expect(conn).to_have_attribute("data-state", "live")
        entry = (await editor.post(slug, "Tillbaka."))["entry"]
        await expect(page.locator(f"#entry-{entry['id']} .body")).to_have_text("Tillbaka.")
        await page.close()


async def test_without_javascript_the_page_is_complete(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, page_entries=3)) as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident("Skogsbrand i Hälsingland", summary="Flera byar evakueras.", category="Brand")
        ids = [(await editor.post(slug, f"Uppdatering nummer {n}.", key_event=n == 1))["entry"]["id"] for n in range(5)]
        await editor.call("POST", f"/api/incidents/{slug}/entries/{ids[3]}/retract", json={"correction": "Fel by."})
        context = await browser.new_context(java_script_enabled=False, locale="sv-SE")
        page = await context.new_page()
        await page.goto(f"{node.url}/i/{slug}")
        await expect(page.locator("noscript .no-js, .no-js")).to_have_text(
            "Sidan uppdateras inte automatiskt utan JavaScript. Ladda om sidan för att se nya uppdateringar."
        )
        await expect(page.locator("h1.title")).to_have_text("Skogsbrand i Hälsingland")
        await expect(page.locator(".badge")).to_have_text("LIVE")
        await expect(page.locator(".stamps")).to_contain_text("Publicerad")
        await expect(page.locator(".key-events li")).to_have_text([re.compile(r"^\d\d:\d\d Uppdatering nummer 1\.$")])
        entries = page.locator(".entries > .entry")
        await expect(entries.locator(".body")).to_have_text(
            ["Uppdatering nummer 4.", "Fel by.", "Uppdatering nummer 2."]
        )
        await page.locator(".more").click()  # a plain link without JavaScript
        await expect(entries.locator(".body")).to_have_text(["Uppdatering nummer 1.", "Uppdatering nummer 0."])
        await expect(page.locator(".conn")).to_be_hidden()
        await context.close()


async def test_front_page_updates_live_and_shows_the_most_followed(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        quiet = await editor.incident("Vattenläcka i Uppsala")
        busy = await editor.incident("Polisjakt genom centrum", category="Blåljus")
        await editor.post(busy, "Bilen har setts vid resecentrum.", label="22:37")
        reader = await open_live(browser, f"{node.url}/i/{busy}")  # one follower of `busy`
        await _wait_for_viewers(node, busy, 1)
        page = await open_live(browser, f"{node.url}/", PHONE)
        cards = page.locator(".card")
        await expect(cards).to_have_count(2)
        await expect(page.locator(".most li")).to_have_text(["Polisjakt genom centrum 1 följer just nu"])

        await posted_to_the_top_card(editor, cards, quiet, "Vattnet är avstängt i hela kvarteret.", "23:01")
        await reader.close()
        await page.close()


async def test_incidents_opened_after_the_front_page_loaded_join_it_and_follow_live(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url, front_refresh_seconds=0.3)) as node:
        editor = await node.reporter()
        page = await browser.new_page(locale="sv-SE")
        await page.goto(f"{node.url}/")
        await expect(page.locator(".now .empty")).to_be_visible()  # nothing live yet: nothing followed yet
        cards = page.locator(".card")
        for title, text in [
            ("Brand i Hammarby hamn", "Röken syns över hela stan."),
            ("Storm över Gotland", "Färjorna står still."),
        ]:
            slug = await editor.incident(title)
            await expect(cards.first).to_have_attribute("data-incident", slug)  # it joined, on top
            await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
            await posted_to_the_top_card(editor, cards, slug, text, "21:00")  # and is followed live
        await expect(cards).to_have_count(2)
        await expect(page.locator(".now .empty")).to_be_hidden()
        await page.close()


async def test_the_front_page_falls_back_to_one_sse_stream_for_all_its_incidents(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url, front_refresh_seconds=0.3)) as node:
        editor = await node.reporter()
        slugs = [await editor.incident(title) for title in ("Vattenläcka i Uppsala", "Polisjakt genom centrum")]
        page, streams = await without_websockets(browser)
        await page.goto(f"{node.url}/")
        await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(page.locator("#front")).to_have_attribute("data-transport", "sse")
        cards = page.locator(".card")
        await posted_to_the_top_card(editor, cards, slugs[0], "Vattnet är avstängt i hela kvarteret.", "23:01")

        # The server ends the stream; the page opens a new one from where each incident is, and what was posted
        # meanwhile arrives.
        for reader in list(node.services.hub.readers):
            reader.sink.close(CloseCode.SESSION_ENDED, "test: resume")
        await posted_to_the_top_card(editor, cards, slugs[1], "Bilen har setts vid resecentrum.", "23:05")
        assert len(streams) >= 2 and all(re.search(r"/sse\?follow=", r.url) for r in streams)
        assert f"follow={slugs[0]}%3A2%3A" in streams[-1].url  # seq 2: its post, which the first stream brought

        # An incident opened now joins the page, and a new stream follows all three.
        third = await editor.incident("Strömavbrott i Luleå")
        await expect(cards.first).to_have_attribute("data-incident", third)
        await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
        await posted_to_the_top_card(editor, cards, third, "Elen är tillbaka.", "23:10")
        assert f"follow={third}%3A1%3A" in streams[-1].url
        await page.close()


async def posted_to_the_top_card(editor: Reporter, cards: Locator, slug: str, text: str, label: str) -> None:
    """Post to an incident on an open front page: its card comes first (the latest activity first) and shows it."""
    await editor.post(slug, text, label=label)
    await expect(cards.first).to_have_attribute("data-incident", slug)
    await expect(cards.first.locator(".latest")).to_have_text(f"{label} {text}")


async def _wait_for_viewers(node: Node, slug: str, count: int) -> None:
    reporter = Reporter(node.url, None)
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while (await reporter.call("GET", f"/i/{slug}/viewers"))["viewers"] != count:
            assert asyncio.get_running_loop().time() < deadline, "the viewer count did not arrive"
            await asyncio.sleep(0.1)
    finally:
        await reporter.aclose()
