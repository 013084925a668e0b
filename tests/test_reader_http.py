"""The reader's pages over real HTTP (issue 5): structured data, Atom, caching, languages, search, the SSE
stream, viewer counts and every reader limit. Browser behaviour is in test_reader_browser.py."""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from sqlalchemy import text

from tests.support.live import LiveReader
from tests.support.node import Node, node_settings, running_node
from tests.support.waiting import eventually
from ticker import i18n
from ticker.live import frames
from ticker.live.frames import framed, text_frame
from ticker.live.sse import SSESink, sse_event

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"


@asynccontextmanager
async def reader_node(database_url: str, redis_url: str | None = None, **settings: Any) -> AsyncIterator[Node]:
    async with running_node(node_settings(database_url, redis_url, **settings)) as node:
        yield node


@asynccontextmanager
async def visitor(node: Node, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=10, trust_env=False) as client:
        yield client


def jsonld(html: str) -> Any:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def entry_ids(html: str) -> list[int]:
    """The entries the page shows (not the blank one in the <template> that reader.js clones)."""
    shown = html.split('<template id="entry-template">', 1)[0]
    return [int(n) for n in re.findall(r'<li id="entry-(\d+)" class="entry', shown)]


async def test_json_ld_is_a_live_blog_posting_with_its_updates(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, site_name="Kvällsnytt") as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident(
            "Brand i hamnen",
            summary="Ett lager brinner.",
            location="Göteborg",
            photo_url="https://bild.example/brand.jpg",
            photo_credit="Anna Fotograf",
        )
        first = (await editor.post(slug, "<p>Räddningstjänsten <b>larmades</b> 22:37.</p>", label="22:37"))["entry"]
        gone = (await editor.post(slug, "Fel uppgift.", label="22:40"))["entry"]
        await editor.call("POST", f"/api/incidents/{slug}/entries/{gone['id']}/retract", json={})
        async with visitor(node) as client:
            live = jsonld((await client.get(f"/i/{slug}")).text)
            assert live["@context"] == "https://schema.org"
            assert live["@type"] == "LiveBlogPosting"
            assert live["headline"] == "Brand i hamnen"
            assert live["url"] == f"{node.url}/i/{slug}"
            assert live["coverageStartTime"].endswith("Z")
            assert "coverageEndTime" not in live
            assert live["publisher"]["name"] == "Kvällsnytt"
            assert live["publisher"]["logo"]["url"] == f"{node.url}/static/logo.png"
            assert live["image"] == ["https://bild.example/brand.jpg"]
            [update] = live["liveBlogUpdate"]  # the retracted entry is not among them
            assert update["@type"] == "BlogPosting"
            assert update["headline"] == "Uppdatering 22:37: Räddningstjänsten larmades 22:37."
            assert update["articleBody"] == "Räddningstjänsten larmades 22:37."
            assert update["datePublished"] == first["created_at"]
            assert update["url"] == f"{node.url}/i/{slug}/e/{first['id']}"
            assert update["author"]["name"] == "Anna Svensson"

            closed = await editor.call("POST", f"/api/incidents/{slug}/close")
            page = (await client.get(f"/i/{slug}")).text
            assert jsonld(page)["coverageEndTime"] == closed["incident"]["closed_at"]
            assert f'<link rel="canonical" href="{node.url}/i/{slug}">' in page
            assert '<meta property="og:title" content="Brand i hamnen">' in page
            assert '<meta name="twitter:card" content="summary_large_image">' in page
            assert f'type="application/atom+xml" title="Brand i hamnen" href="/i/{slug}/feed.atom"' in page
            assert 'Foto: <span class="photo-credit">Anna Fotograf</span>' in page
            assert '<span class="badge closed">Avslutad</span>' in page
            assert "https://www.facebook.com/sharer/sharer.php?u=" in page
            assert "https://x.com/intent/post?url=" in page
            assert "mailto:?subject=Brand%20i%20hamnen" in page


async def test_atom_feed_is_xml_with_the_standing_entries_newest_first(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident("Storm över Skåne", summary="Träd har fallit.")
        one = (await editor.post(slug, "Vinden når stormstyrka.", label="06:00"))["entry"]
        two = (await editor.post(slug, "Tåg <em>inställda</em> mellan Lund och Malmö.", label="06:30"))["entry"]
        three = (await editor.post(slug, "Detta stämde inte.", label="06:45"))["entry"]
        await editor.call("POST", f"/api/incidents/{slug}/entries/{three['id']}/retract", json={"correction": "Fel."})
        edited = await editor.call("PATCH", f"/api/incidents/{slug}/entries/{one['id']}", json={"body": "Orkanbyar."})
        async with visitor(node) as client:
            response = await client.get(f"/i/{slug}/feed.atom")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        feed = ET.fromstring(response.content)  # raises on anything that is not well-formed XML
        assert feed.tag == f"{ATOM}feed"
        assert feed.findtext(f"{ATOM}title") == "Storm över Skåne"
        assert feed.findtext(f"{ATOM}id") == f"{node.url}/i/{slug}"
        assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"{node.url}/i/{slug}/feed.atom"  # type: ignore[union-attr]
        entries = feed.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}id") for e in entries] == [
            f"{node.url}/i/{slug}/e/{two['id']}",
            f"{node.url}/i/{slug}/e/{one['id']}",
        ]
        assert entries[0].findtext(f"{ATOM}title") == "Uppdatering 06:30: Tåg inställda mellan Lund och Malmö."
        assert entries[0].findtext(f"{ATOM}content") == two["body"]
        assert entries[0].find(f"{ATOM}content").get("type") == "html"  # type: ignore[union-attr]
        assert entries[1].findtext(f"{ATOM}updated") == edited["entry"]["edited_at"]
        assert entries[1].findtext(f"{ATOM}published") == one["created_at"]
        assert entries[1].findtext(f"{ATOM}author/{ATOM}name") == "Anna Svensson"
        for entry in entries:
            for field in ("id", "title", "updated"):  # what RFC 4287 requires of every entry
                assert entry.findtext(f"{ATOM}{field}")


@pytest.mark.parametrize("path", ["/i/{slug}", "/i/{slug}/feed.atom", "/api/incidents/{slug}"])
async def test_page_feed_and_snapshot_are_cacheable_and_revalidate(sqlite_url: str, path: str) -> None:
    async with reader_node(sqlite_url, cache_max_age=7) as node:
        editor = await node.reporter()
        slug = await editor.incident()
        url = path.format(slug=slug)
        async with visitor(node) as client:
            first = await client.get(url)
            assert first.status_code == 200
            assert first.headers["cache-control"] == "public, max-age=7"
            tag, modified = first.headers["etag"], first.headers["last-modified"]
            assert tag.startswith('W/"')
            unchanged = await client.get(url, headers={"If-None-Match": tag})
            assert (unchanged.status_code, unchanged.content) == (304, b"")
            assert unchanged.headers["etag"] == tag
            since = await client.get(url, headers={"If-Modified-Since": modified})
            assert since.status_code == 304

            await editor.post(slug, "Något hände.")
            changed = await client.get(url, headers={"If-None-Match": tag})
            assert changed.status_code == 200
            assert changed.headers["etag"] != tag
            if not url.startswith("/api/"):
                assert changed.headers["vary"].startswith("Accept-Language")  # and Accept-Encoding when compressed
                english = await client.get(url, headers={"Accept-Language": "en"})
                assert english.headers["etag"] != changed.headers["etag"]


async def test_the_page_embeds_the_seq_it_shows(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node:
        editor = await node.reporter()
        slug = await editor.incident()
        posted = await editor.post(slug, "Första.")
        async with visitor(node) as client:
            page = (await client.get(f"/i/{slug}")).text
        assert f'data-seq="{posted["seq"]}"' in page


async def test_swedish_by_default_english_by_accept_language_or_lang(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node:
        editor = await node.reporter()
        slug = await editor.incident()
        await editor.post(slug, "Hej.", label="23:00", key_event=True)
        async with visitor(node) as client:
            swedish = (await client.get(f"/i/{slug}")).text
            english = (await client.get(f"/i/{slug}", headers={"Accept-Language": "en-GB,en;q=0.9,sv;q=0.5"})).text
            chosen = (await client.get(f"/i/{slug}?lang=en", headers={"Accept-Language": "sv"})).text
            preferred = (await client.get(f"/i/{slug}", headers={"Accept-Language": "de, sv;q=0.4, en;q=0.8"})).text
        month = r"\d{1,2} [a-zåäö]+ \d{4} \d\d:\d\d"
        assert '<html lang="sv">' in swedish
        assert re.search(rf'Publicerad <time class="published" datetime="[^"]+">{month}</time>', swedish)
        assert "Senast uppdaterad" in swedish and "Viktigaste händelserna" in swedish and "Uppdatering 23:00" in swedish
        for page in (english, chosen, preferred):
            assert '<html lang="en">' in page
            assert "Last updated" in page and "Key events" in page and "Update 23:00" in page
        assert 'href="/?lang=en"' in chosen  # links keep the chosen language


def test_dates_and_numbers_come_from_babel_in_stockholm_time() -> None:
    moment = datetime(2024, 5, 7, 20, 37, tzinfo=UTC)
    assert i18n.when(moment, "sv") == "7 maj 2024 22:37"
    assert i18n.when(moment, "en") == "7 May 2024 22:37"
    assert i18n.when(datetime(2024, 12, 24, 23, 5, tzinfo=UTC), "sv") == "25 december 2024 00:05"
    assert i18n.number(1234, "sv") == "1\xa0234"
    assert i18n.number(1234, "en") == "1,234"
    assert i18n.STRINGS["sv"]["viewers"].format(n=i18n.number(1234, "sv")) == "1\xa0234 följer just nu"


async def test_search_titles_and_entries_with_exact_phrase_and_title_only(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, search_results=2) as node:
        editor = await node.reporter()
        chase = await editor.incident("Polisjakt genom centrum")
        fire = await editor.incident("Brand i hamnen")
        await editor.incident("Storm över Skåne")
        await editor.post(fire, "Polisen spärrar av hamnen.")
        await editor.post(chase, "Bilen stoppades vid hamnen <b>till slut</b>.")

        async def hits(**params: str) -> list[str]:
            async with visitor(node) as client:
                response = await client.get("/search", params=params)
            assert response.status_code == 200
            return re.findall(r'<li class="result">\s*<h2><a href="/i/([a-z0-9-]+)"', response.text)

        assert await hits(q="polis") == [chase, fire]  # newest activity first
        assert await hits(q="polis", title="1") == [chase]
        assert await hits(q="hamnen polisen") == [fire]  # every word, in any order
        assert await hits(q="hamnen polisen", exact="1") == []
        assert await hits(q="spärrar av hamnen", exact="1") == [fire]
        assert await hits(q="till slut") == [chase]  # text, not the markup between the words
        assert await hits(q="hamn") == [chase, fire]  # at most TICKER_SEARCH_RESULTS (2) of 3
        assert await hits(q="100%_") == []
        await editor.post(fire, 'Läs mer om AT&T-masten hos <a href="https://smhi.se/varningar">SMHI</a>.')
        assert await hits(q="AT&T") == await hits(q="smhi") == [fire]  # the text, entities and all
        assert await hits(q="href") == await hits(q="varningar") == await hits(q="amp") == []  # not the markup
        edited = (await editor.post(chase, "<p>Föraren greps <strong>utan motstånd</strong>.</p>"))["entry"]
        assert await hits(q="utan motstånd", exact="1") == [chase] and await hits(q="strong") == []
        await editor.call("PATCH", f"/api/incidents/{chase}/entries/{edited['id']}", json={"body": "Föraren greps."})
        assert await hits(q="utan motstånd", exact="1") == []  # an edit changes what is found
        # Written by a node of the version before migration 0004 during a rolling upgrade: no text, so its HTML.
        old = (await editor.post(fire, "Vinden mojnar i hamnen."))["entry"]
        async with node.services.store.writing() as session:
            await session.execute(text("UPDATE entries SET body_text = '' WHERE id = :id"), {"id": old["id"]})
        assert await hits(q="vinden mojnar", exact="1") == [fire]
        storm = await editor.incident("Stormen drog in över Älvsjö")
        assert await hits(q="älvsjö") == await hits(q="ÄLVSJÖ") == [storm]  # case-blind beyond ASCII, SQLite too
        async with visitor(node) as client:
            page = (await client.get("/search", params={"q": "<script>"})).text
        assert "<script>" not in page.split("<main", 1)[1].split("</main>")[0]
        assert "Träffar för ”&lt;script&gt;”" in page


async def test_search_refuses_bad_input_by_field(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, search_max_chars=10) as node, visitor(node) as client:
        too_long = await client.get("/search", params={"q": "x" * 11})
        assert too_long.status_code == 422
        assert too_long.json() == {"error": "invalid", "message": "q: at most 10 characters", "field": "q"}
        assert (await client.get("/search", params={"q": "x" * 10})).status_code == 200
        flag = await client.get("/search", params={"q": "x", "exact": "maybe"})
        assert (flag.status_code, flag.json()["field"]) == (422, "exact")


async def test_bad_cursor_and_ids_are_refused_by_field(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node, visitor(node) as client:
        editor = await node.reporter()
        slug = await editor.incident()
        for url, field in [
            (f"/i/{slug}?before=abc", "before"),
            (f"/i/{slug}/e/x1", "entry_id"),
            (f"/sse/{slug}?since=-1", "since"),
            (f"/sse/{slug}?epoch={'e' * 65}", "epoch"),
            ("/sse/Not_A_Slug", "incident"),
        ]:
            response = await client.get(url)
            assert response.status_code == 422, url
            assert response.json()["field"] == field, url
        refused = await client.get(f"/sse/{slug}", headers={"Last-Event-ID": "seven"})
        assert (refused.status_code, refused.json()["field"]) == (422, "Last-Event-ID")
        assert (await client.get("/sse/no-such-incident")).status_code == 404
        assert (await client.get("/i/no-such-incident")).status_code == 404
        assert (await client.get(f"/i/{slug}/e/999")).status_code == 404


async def test_pages_of_entries_follow_the_cursor_and_the_pinned_entry_stays_on_top(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, page_entries=3) as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident()
        ids = [(await editor.post(slug, f"Nummer {n}.", label=f"22:0{n}"))["entry"]["id"] for n in range(7)]
        await editor.call("POST", f"/api/incidents/{slug}/entries/{ids[1]}/pin")
        async with visitor(node) as client:
            first = (await client.get(f"/i/{slug}")).text
            assert entry_ids(first) == [ids[1], ids[6], ids[5], ids[4]]  # pinned + TICKER_PAGE_ENTRIES
            cursor = re.search(rf'href="/i/{slug}\?before=(\d+)" data-cursor="before"', first)
            assert cursor is not None and int(cursor.group(1)) == ids[4]
            second = (await client.get(f"/i/{slug}?before={ids[4]}")).text
            assert entry_ids(second) == [ids[1], ids[3], ids[2]]  # the pinned entry is never in a page itself
            assert "data-live" not in second and '<meta name="robots" content="noindex, follow">' in second
            last = (await client.get(f"/i/{slug}?before={ids[2]}")).text
            assert entry_ids(last) == [ids[1], ids[0]]
            assert 'class="more"' not in last


async def test_entry_permalink_page(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node:
        editor = await node.reporter(role="editor")
        slug = await editor.incident("Brand i hamnen")
        kept = (await editor.post(slug, "Branden är släckt.", label="23:10"))["entry"]
        gone = (await editor.post(slug, "Fel.", label="23:11"))["entry"]
        noted = (await editor.post(slug, "Också fel.", label="23:12"))["entry"]
        base = f"/api/incidents/{slug}/entries"
        await editor.call("POST", f"{base}/{gone['id']}/retract", json={})
        await editor.call("POST", f"{base}/{noted['id']}/retract", json={"correction": "Rättat: inget hände."})
        async with visitor(node) as client:
            page = await client.get(f"/i/{slug}/e/{kept['id']}")
            assert page.status_code == 200
            assert "Branden är släckt." in page.text and "<title>Uppdatering 23:10 – Brand i hamnen" in page.text
            assert f'<link rel="canonical" href="{node.url}/i/{slug}/e/{kept["id"]}">' in page.text
            assert (await client.get(f"/i/{slug}/e/{gone['id']}")).status_code == 404
            assert "Rättat: inget hände." in (await client.get(f"/i/{slug}/e/{noted['id']}")).text


async def test_a_fifty_entry_page_is_small(sqlite_url: str) -> None:
    words = ["polisen", "bilen", "resecentrum", "allmänheten", "tips", "området", "vittnen", "helikopter", "trafiken"]
    draw = random.Random(5)
    async with reader_node(sqlite_url) as node:
        editor = await node.reporter()
        slug = await editor.incident("Polisjakt genom centrum", summary="En bil flydde från en kontroll.")
        for n in range(51):
            text = " ".join(draw.choice(words) for _ in range(25)).capitalize() + "."  # ~200 characters
            await editor.post(slug, text, key_event=n % 10 == 0)
        async with visitor(node) as client:
            page = (await client.get(f"/i/{slug}")).content
        assert len(entry_ids(page.decode())) == 50
        # Each entry's ~200 characters appear twice (the entry, its JSON-LD update): under 1.5 KB per entry in all
        # (measured: 70 KB, 6.5 KB gzipped).
        assert len(page) < 75 * 1024, len(page)
        assert len(gzip.compress(page)) < 12 * 1024, len(gzip.compress(page))


async def test_scripts_may_be_imported_by_a_partners_page_and_nothing_else_is_shared(sqlite_url: str) -> None:
    """embed.js, on a partner's page, imports live.js as a module: from another origin that needs CORS."""
    async with reader_node(sqlite_url) as node, visitor(node, Origin="https://gp.se") as client:
        module = await client.get("/static/live.js")
        assert module.status_code == 200 and module.headers["access-control-allow-origin"] == "*"
        assert module.headers["content-type"].startswith("text/javascript") and "export function follow" in module.text
        style = await client.get("/static/ticker.css")
        assert style.status_code == 200 and "access-control-allow-origin" not in style.headers
        page = await client.get("/")
        assert re.search(r'<script type="module" src="/static/reader\.[0-9a-f]{10}\.js"></script>', page.text)


def test_reader_script_is_under_twelve_kilobytes_gzipped() -> None:
    script = (ROOT / "web" / "static" / "reader.js").read_bytes()
    assert len(gzip.compress(script, 9)) <= 12 * 1024


async def test_front_page_lists_live_then_closed_within_the_limits(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, front_incidents=2, front_closed=1) as node:
        editor = await node.reporter()
        slugs = [await editor.incident(f"Händelse {n}") for n in range(5)]
        for slug in slugs[:2]:
            await editor.call("POST", f"/api/incidents/{slug}/close")
        await editor.post(slugs[2], "Senaste nytt om tvåan.", label="12:00")
        await editor.post(slugs[2], "Ännu senare.", label="12:05")
        async with visitor(node) as client:
            page = (await client.get("/")).text
        cards = re.findall(r'<article class="card" data-incident="([a-z0-9-]+)"', page)
        assert cards == [slugs[2], slugs[4]]  # live, newest activity first, at most TICKER_FRONT_INCIDENTS
        assert '<span class="latest-label">12:05</span>' in page and "Ännu senare." in page
        closed = page.split('id="closed-title"', 1)[1]
        assert re.findall(r'href="/i/([a-z0-9-]+)"', closed) == [slugs[1]]  # TICKER_FRONT_CLOSED
        assert "Sök nyheter" in page and "Just nu" in page and "Nyligen avslutade" in page


async def test_api_front_gives_the_live_incidents_with_their_positions_and_cards(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, front_incidents=2) as node, visitor(node) as client:
        editor = await node.reporter()
        slugs = [await editor.incident(f"Händelse {n}") for n in range(3)]
        await editor.call("POST", f"/api/incidents/{slugs[2]}/close")
        await editor.post(slugs[0], "Senaste nytt.", label="12:00")
        answer = await client.get("/api/front")
        assert answer.status_code == 200
        found = answer.json()["incidents"]
        assert [i["slug"] for i in found] == [slugs[0], slugs[1]]  # live only, newest activity first
        incident = await editor.call("GET", f"/api/incidents/{slugs[0]}")
        assert (found[0]["seq"], found[0]["epoch"]) == (incident["seq"], incident["incident"]["epoch"])
        page = (await client.get("/")).text  # the same card as the page's own
        assert found[0]["card"] in page and 'data-seq="2"' in found[0]["card"] and "Senaste nytt." in found[0]["card"]
        assert "Senast uppdaterad" in found[0]["card"]
        assert "Last updated" in (await client.get("/api/front?lang=en")).json()["incidents"][0]["card"]
        again = await client.get("/api/front", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304  # a page that asks every 30 s mostly gets this
        await editor.post(slugs[1], "Nytt.")
        moved = await client.get("/api/front", headers={"If-None-Match": answer.headers["etag"]})
        assert moved.status_code == 200 and moved.json()["incidents"][0]["slug"] == slugs[1]
        page = (await client.get("/")).text
        assert 'data-refresh="30.0"' in page and 'data-follow-most="20"' in page


async def test_viewer_counts_follow_readers_and_skip_multi_incident_followers(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, most_followed=1) as node, visitor(node) as client:
        editor = await node.reporter()
        busy, quiet = await editor.incident("Mycket läst"), await editor.incident("Lite läst")

        async def viewers(slug: str) -> int:
            count: int = (await client.get(f"/i/{slug}/viewers")).json()["viewers"]
            return count

        async def busy_has(n: int) -> bool:
            return await viewers(busy) == n

        readers = [await LiveReader.open(node.ws_url) for _ in range(4)]
        for reader in readers[:2]:
            await reader.subscribe(busy)
        await readers[2].subscribe(quiet)
        await readers[3].subscribe(busy)
        await readers[3].subscribe(quiet)  # a front page: follows both, counted for neither
        await eventually(lambda: busy_has(2))
        assert await viewers(quiet) == 1
        page = (await client.get(f"/i/{busy}")).text
        assert "2 följer just nu" in page
        front = (await client.get("/")).text.split('id="most-title"', 1)[1].split("</section>")[0]
        assert re.findall(r'href="/i/([a-z0-9-]+)"', front) == [busy]  # TICKER_MOST_FOLLOWED
        assert "2 följer just nu" in front
        await readers[0].close()
        await eventually(lambda: busy_has(1))
        for reader in readers[1:]:
            await reader.close()
        assert (await client.get("/i/no-such-incident/viewers")).status_code == 404


async def test_viewer_counts_add_up_across_nodes_through_redis(sqlite_url: str, redis_server: Any) -> None:
    settings = {"presence_seconds": 0.1}
    async with (
        reader_node(sqlite_url, redis_server.url, **settings) as a,
        reader_node(sqlite_url, redis_server.url, **settings) as b,
    ):
        editor = await a.reporter()
        slug = await editor.incident()
        on_a = [await LiveReader.open(a.ws_url) for _ in range(2)]
        on_b = await LiveReader.open(b.ws_url)
        for reader in [*on_a, on_b]:
            await reader.subscribe(slug)
        async with visitor(a) as at_a, visitor(b) as at_b:

            async def total(client: httpx.AsyncClient, expected: int) -> bool:
                return bool((await client.get(f"/i/{slug}/viewers")).json()["viewers"] == expected)

            await eventually(lambda: total(at_a, 3))
            await eventually(lambda: total(at_b, 3))
            for reader in on_a:
                await reader.close()
            await eventually(lambda: total(at_b, 1))
        await on_b.close()


def test_sse_events_carry_the_websocket_payload_and_seq() -> None:
    for size in (10, 200, 70_000):  # the three websocket length encodings
        payload = json.dumps({"type": "event", "incident": "x", "seq": 41, "data": "é" * size}).encode()
        frame = text_frame(payload)
        assert frames.payload(frame) == payload
        assert sse_event(framed(payload, 41)) == b"id: 41\ndata: " + payload + b"\n\n"
    subscribed = json.dumps({"type": "subscribed", "incident": "x", "epoch": "e", "seq": 40}).encode()
    assert sse_event(framed(subscribed)) == b"data: " + subscribed + b"\n\n"  # no id: nothing applied yet


async def test_sse_sink_is_bounded_like_a_websocket() -> None:
    sink = SSESink(limit=100)
    message = framed(json.dumps({"type": "event", "incident": "x", "seq": 1, "data": "a" * 80}).encode(), 1)
    write = sink.deliver  # as the hub hands an SSE reader each event
    write(message)  # nothing unsent: accepted, and now over the bound
    assert sink.closing is None
    write(message)  # over the bound: the sink closes itself (4000) and queues nothing more
    assert sink.closing == (4000, "too slow: resume from your last seq")
    assert sink.size == len(sse_event(message))
    write(message)  # closing: ignored, as a closing websocket does
    assert sink.take() == sse_event(message) and sink.size == 0


async def test_sse_stream_resumes_from_since_or_last_event_id(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, sse_heartbeat_seconds=0.2) as node, visitor(node) as client:
        editor = await node.reporter()
        slug = await editor.incident()  # seq 1
        for n in range(3):
            await editor.post(slug, f"Nummer {n}.")  # seq 2, 3, 4

        async def stream(url: str, count: int, **headers: str) -> list[str]:
            """The first ``count`` events (blank-line separated blocks) of the stream."""
            blocks: list[str] = []
            async with client.stream("GET", url, headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
                assert "content-length" not in response.headers
                buffer = ""
                async for chunk in response.aiter_text():
                    buffer += chunk
                    *done, buffer = buffer.split("\n\n")
                    blocks += done
                    if len(blocks) >= count:
                        return blocks[:count]
            raise AssertionError(f"the stream ended after {blocks}")

        blocks = await stream(f"/sse/{slug}?since=2", 4)
        assert re.fullmatch(r"retry: \d+", blocks[0])
        assert json.loads(blocks[1].removeprefix("data: "))["type"] == "subscribed"
        assert [b.split("\n")[0] for b in blocks[2:]] == ["id: 3", "id: 4"]
        assert json.loads(blocks[3].split("data: ", 1)[1])["seq"] == 4

        resumed = await stream(f"/sse/{slug}?since=0", 3, **{"Last-Event-ID": "3"})
        assert resumed[2].startswith("id: 4\n")  # the header wins over ?since

        idle = await stream(f"/sse/{slug}", 3)
        assert idle[2] == ": keep-alive"  # TICKER_SSE_HEARTBEAT_SECONDS with nothing to send

        async with client.stream("GET", f"/sse/{slug}?since=4") as response:
            lines = response.aiter_lines()
            while "subscribed" not in await anext(lines):
                pass
            await editor.post(slug, "Live.")
            assert await anext(lines) == ""
            assert await anext(lines) == "id: 5"
            assert '"seq":5' in await anext(lines)


async def test_one_sse_stream_follows_several_incidents_each_from_its_own_seq(sqlite_url: str) -> None:
    async with reader_node(sqlite_url, max_subscriptions=3) as node, visitor(node) as client:
        editor = await node.reporter()
        fire, storm = await editor.incident("Brand"), await editor.incident("Storm")  # seq 1 each
        await editor.post(fire, "Brand 2.")
        await editor.post(storm, "Storm 2.")
        epoch = (await editor.call("GET", f"/api/incidents/{storm}"))["incident"]["epoch"]
        follow = f"/sse?follow={fire}:1&follow={storm}:2:{epoch}"
        async with client.stream("GET", follow, headers={"Last-Event-ID": "99"}) as response:
            assert response.status_code == 200
            messages = []
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    messages.append(json.loads(line.removeprefix("data: ")))
                if len(messages) == 3:
                    await editor.post(storm, "Storm 3.")
                if len(messages) == 4:
                    break
        # The header is ignored here (one seq cannot say where each incident is); each resumes from its own.
        assert [(m["type"], m["incident"], m["seq"]) for m in messages] == [
            ("subscribed", fire, 2),
            ("event", fire, 2),
            ("subscribed", storm, 2),
            ("event", storm, 3),
        ]
        await eventually(lambda: not node.services.hub.readers)  # the stream closed: its reader left

        four = "&".join(f"follow={slug}" for slug in (fire, storm, "a", "b"))
        for url in [
            "/sse",
            "/sse?follow=",
            f"/sse?follow={fire}:x",
            f"/sse?follow={fire}&follow={fire}",
            f"/sse?follow={fire}:1:{'e' * 65}",
            "/sse?follow=Not_A_Slug",
            f"/sse?{four}",
        ]:
            refused = await client.get(url)
            assert (refused.status_code, refused.json()["field"]) == (422, "follow"), url
        assert (await client.get(f"/sse?follow={fire}&follow=no-such-incident")).status_code == 404
        assert not node.services.hub.readers  # a refused stream leaves no reader behind


async def test_sse_reader_closed_by_the_hub_gets_a_close_event(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node, visitor(node) as client:
        editor = await node.reporter()
        slug = await editor.incident()
        async with client.stream("GET", f"/sse/{slug}?since=1") as response:
            lines = response.aiter_lines()
            while "subscribed" not in await anext(lines):
                pass
            [reader] = node.services.hub.readers
            reader.sink.close(4000, "too slow: resume from your last seq")
            rest = [line async for line in lines]
        assert rest[-3:] == [
            "event: close",
            'data: {"code": 4000, "reason": "too slow: resume from your last seq"}',
            "",
        ]

        async def forgotten() -> bool:
            return not node.services.hub.readers

        await eventually(forgotten)


async def test_a_stopping_node_ends_sse_streams_at_once_with_a_1012_close_event(sqlite_url: str) -> None:
    async with reader_node(sqlite_url) as node, visitor(node) as client:
        slug = await (await node.reporter()).incident()
        async with client.stream("GET", f"/sse/{slug}?since=1") as response:
            lines = response.aiter_lines()
            while "subscribed" not in await anext(lines):
                pass
            # uvicorn waits for running responses (up to its graceful timeout) before the app's shutdown: the
            # stream must end on its own, telling the browser to come back, instead of being cut at the timeout.
            node.server.should_exit = True
            rest = [line async for line in lines]
        assert rest[-3:] == ["event: close", 'data: {"code": 1012, "reason": "service restart"}', ""]
