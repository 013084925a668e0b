"""Embeds on partner sites in Chromium (issue 7, "Must show"): the script embed live on another origin whatever
the host's CSS, the iframe that sizes itself and is framed only where allowed, a stranger's page refused at the
socket and the embed API, and the reader page's live guarantees (restart and resume, SSE fallback)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, WebSocketRoute, expect

from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.partner_site import PartnerSite
from tests.support.services import ServerProcess
from tests.support.waiting import eventually
from ticker.sanitize import clean_html
from ticker.store.accounts import add_user, create_token
from ticker.store.migrate import upgrade
from ticker.store.partners import add_partner
from ticker.store.sql import Store
from ticker.store.writes import Author, post_entry

expect.set_options(timeout=15_000)
EMBED_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "embed.js"

# Rules that would wreck an embed living in the host's DOM: hide everything, recolour and resize all text.
HOSTILE_CSS = """
* { display: none; color: red !important; font: 40px/3 serif !important; visibility: hidden; }
html, body { display: block; visibility: visible; }
div, p, li, ol, a, span, header, time { color: red; border: 3px dotted red; background: yellow; display: none; }
"""
# What the element's shadow tree looks like, as computed styles: equal on a plain and a hostile page.
STYLES_JS = """
(el) => {
  const out = {box: Math.round(el.getBoundingClientRect().height)};
  for (const selector of [".ticker", ".title", ".badge", ".entry", ".entry .label", ".entry .body p", ".full"]) {
    const s = getComputedStyle(el.shadowRoot.querySelector(selector));
    out[selector] = [s.display, s.color, s.fontSize, s.fontFamily, s.borderTopStyle, s.backgroundColor,
                     s.visibility];
  }
  return out;
}
"""


def script_embed(base: str, slug: str) -> str:
    return f'<script src="{base}/static/embed.js" data-incident="{slug}" async></script>'


def page_with(body: str, head: str = "") -> str:
    return f"<!doctype html><html lang='sv'><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


@dataclass
class Sites:
    partner: PartnerSite
    stranger: PartnerSite


@pytest.fixture
def sites() -> Iterator[Sites]:
    with PartnerSite("127.0.0.2") as partner, PartnerSite("127.0.0.3") as stranger:
        yield Sites(partner, stranger)


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url)) as running:
        yield running


async def partner_of(node: Node, origin: str) -> Reporter:
    admin = await node.reporter("ada", role="admin")
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [origin]})
    return admin


def shadow_entries(page: Page) -> Any:
    return page.locator("ticker-live").locator(".entries > .entry")


async def test_the_script_embed_is_live_on_a_partner_page_and_hostile_css_cannot_change_it(
    browser: Browser, node: Node, sites: Sites
) -> None:
    assert len(gzip.compress(EMBED_JS.read_bytes())) <= 15 * 1024
    admin = await partner_of(node, sites.partner.origin)
    slug = await admin.incident("Brand i hamnen")
    first = (await admin.post(slug, "Räddningstjänsten är på plats.", label="22:40"))["entry"]
    script = script_embed(node.url, slug)
    # The page notes its globals before the embed loads, to show the embed adds none but the element.
    before = "<script>window.__before = new Set(Object.getOwnPropertyNames(window));</script>"
    control = '<div class="control"><p>Värdsidans eget innehåll</p></div>'
    sites.partner.pages["/plain.html"] = page_with(f"<h1>GP</h1>{before}{script}")
    sites.partner.pages["/hostile.html"] = page_with(f"{control}{script}", f"<style>{HOSTILE_CSS}</style>")
    options = 'data-entries="2" data-theme="dark" data-accent="#00aa77" data-compact data-lang="en"'
    sites.partner.pages["/options.html"] = page_with(script.replace("async", f"{options} async"))

    pages = {}
    for name in ("plain", "hostile", "options"):
        page = pages[name] = await browser.new_page(viewport={"width": 800, "height": 900})
        await page.goto(sites.partner.url(f"/{name}.html"))
        await expect(page.locator("ticker-live").locator(".conn")).to_have_attribute("data-state", "live")
    plain, hostile, options_page = pages["plain"], pages["hostile"], pages["options"]
    await expect(hostile.locator(".control")).to_be_hidden()  # the hostile CSS is in force on the host page

    posted = [(await admin.post(slug, f"<p>Uppdatering {n}: <b>vägen</b> är avstängd.</p>"))["entry"] for n in (1, 2)]
    expected = [f"entry-{e['id']}" for e in reversed([first, *posted])]  # newest first
    for page in (plain, hostile):
        await expect(shadow_entries(page)).to_have_count(3)
        assert await shadow_entries(page).evaluate_all("els => els.map(e => e.id)") == expected
        await expect(page.locator("ticker-live").locator(f"#entry-{posted[1]['id']} .body")).to_have_text(
            "Uppdatering 2: vägen är avstängd."
        )
    await admin.call("PATCH", f"/api/incidents/{slug}/entries/{first['id']}", json={"body": "Branden är släckt."})
    await expect(hostile.locator("ticker-live").locator(f"#entry-{first['id']} .body")).to_have_text(
        "Branden är släckt."
    )
    await expect(plain.locator("ticker-live").locator(f"#entry-{first['id']} .edited")).to_be_visible()

    looks = await plain.locator("ticker-live").evaluate(STYLES_JS)
    assert await hostile.locator("ticker-live").evaluate(STYLES_JS) == looks
    assert looks[".entry .body p"][1] != "rgb(255, 0, 0)" and looks[".entry .body p"][2] == "16px"
    added = await plain.evaluate("() => Object.getOwnPropertyNames(window).filter(n => !window.__before.has(n))")
    assert added == ["__before"]  # the page's own note: the embed added no global

    # Options: two entries, dark, the accent colour, compact, in English, with the link back to the story.
    embed = options_page.locator("ticker-live")
    await expect(embed.locator(".entries > .entry")).to_have_count(2)
    await expect(embed.locator(".full")).to_have_text("Read the full story on Ticker")
    await expect(embed.locator(".full")).to_have_attribute("href", f"{node.url}/i/{slug}?lang=en")
    await expect(embed.locator(".badge")).to_have_css("background-color", "rgb(0, 170, 119)")
    await expect(embed.locator(".ticker")).to_have_class("ticker dark compact")
    await expect(embed.locator(".entry .byline").first).to_be_hidden()
    for page in pages.values():
        await page.close()


async def test_the_iframe_embed_sizes_itself_and_only_allowed_origins_may_frame_it(
    browser: Browser, node: Node, sites: Sites
) -> None:
    admin = await partner_of(node, sites.partner.origin)
    slug = await admin.incident("Stormen Hans")
    snippet = await admin.call("GET", "/api/partners/gp/snippet", params={"incident": slug})
    sites.partner.pages["/frame.html"] = page_with(f"<h1>GP</h1>{snippet['iframe']}{snippet['resizer']}<p>Slut</p>")
    sites.stranger.pages["/frame.html"] = page_with(f"<h1>Främling</h1>{snippet['iframe']}")

    page = await browser.new_page(viewport={"width": 800, "height": 900})
    await page.goto(sites.partner.url("/frame.html"))
    frame = page.frame_locator("iframe")
    await expect(frame.locator("ticker-live").locator(".conn")).to_have_attribute("data-state", "live")
    iframe = page.locator("iframe")

    async def height() -> int:
        return int(float((await iframe.evaluate("f => f.style.height")).removesuffix("px") or 0))

    async def resized() -> bool:
        return await height() not in (0, 600)  # the snippet's fixed 600px until the embed reports its size

    await eventually(resized)
    empty = await height()
    for n in range(4):
        await admin.post(slug, f"<p>Uppdatering {n}: träd har fallit över vägen vid {n} platser i kommunen.</p>")
    await expect(frame.locator("ticker-live").locator(".entries > .entry")).to_have_count(4)

    async def fits() -> bool:  # as tall as its content: no scrollbar and no gap, and taller than when empty
        inner = int(await frame.locator("ticker-live").evaluate("el => Math.ceil(el.getBoundingClientRect().height)"))
        return await height() == inner and inner > empty + 100

    await eventually(fits)

    refused: list[str] = []
    stranger = await browser.new_page()
    stranger.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    await stranger.goto(sites.stranger.url("/frame.html"))

    async def said() -> bool:
        return bool(refused)

    await eventually(said)
    assert f"Framing '{node.url}/" in refused[0] and "The request has been blocked" in refused[0]
    assert f"frame-ancestors 'self' {sites.partner.origin}" in refused[0]
    assert await stranger.frames[1].locator("ticker-live").count() == 0
    await page.close()
    await stranger.close()


PROBE_JS = """
async ([ws, api]) => {
  const socket = await new Promise((resolve) => {
    const s = new WebSocket(ws);
    s.onopen = () => { resolve("open"); s.close(); };
    s.onclose = (e) => resolve("closed " + e.code);
  });
  let read;
  try { read = "read " + (await fetch(api)).status; } catch (e) { read = "blocked: " + e.name; }
  return [socket, read];
}
"""


async def test_a_page_on_a_stranger_origin_cannot_open_the_socket_or_read_the_embed_api(
    browser: Browser, node: Node, sites: Sites
) -> None:
    admin = await partner_of(node, sites.partner.origin)
    slug = await admin.incident("Brand i hamnen")
    await admin.post(slug, "Räddningstjänsten är på plats.")
    embed = script_embed(node.url, slug)
    for site in (sites.partner, sites.stranger):
        site.pages["/probe.html"] = page_with("<h1>Sida</h1>")
        site.pages["/embed.html"] = page_with(f"<h1>Sida</h1>{embed}")
    probe = [node.ws_url, f"{node.url}/api/embed/{slug}"]

    allowed = await browser.new_page()
    await allowed.goto(sites.partner.url("/probe.html"))
    assert await allowed.evaluate(PROBE_JS, probe) == ["open", "read 200"]

    messages: list[str] = []
    stranger = await browser.new_page()
    stranger.on("console", lambda m: messages.append(m.text))
    await stranger.goto(sites.stranger.url("/probe.html"))
    assert await stranger.evaluate(PROBE_JS, probe) == ["closed 1006", "blocked: TypeError"]
    assert any("WebSocket" in m and "403" in m for m in messages), messages  # refused at the handshake
    assert any("Access-Control-Allow-Origin" in m for m in messages), messages  # no CORS header

    errors: list[ConsoleMessage] = []
    stranger.on("console", lambda m: errors.append(m) if m.text.startswith("Ticker embed:") else None)
    await stranger.goto(sites.stranger.url("/embed.html"))

    async def complained() -> bool:
        return bool(errors)

    await eventually(complained)
    assert "is probably not registered" in errors[0].text and sites.stranger.origin in errors[0].text
    await expect(stranger.locator("ticker-live").locator(".entry")).to_have_count(0)
    await allowed.close()
    await stranger.close()


async def test_the_script_embed_falls_back_to_sse_when_websockets_are_blocked(
    browser: Browser, node: Node, sites: Sites
) -> None:
    admin = await partner_of(node, sites.partner.origin)
    slug = await admin.incident("Översvämning i Gävle")
    first = (await admin.post(slug, "Vattnet stiger."))["entry"]
    sites.partner.pages["/embed.html"] = page_with(script_embed(node.url, slug))
    page = await browser.new_page()

    async def refuse(ws: WebSocketRoute) -> None:
        await ws.close()  # as a proxy that will not pass websockets: the socket never opens

    await page.route_web_socket("**/live", refuse)
    streams: list[Request] = []
    page.on("request", lambda r: streams.append(r) if "/sse/" in r.url else None)
    await page.goto(sites.partner.url("/embed.html"))
    embed = page.locator("ticker-live")
    await expect(embed.locator(".conn")).to_have_attribute("data-state", "live")
    await expect(embed.locator(".ticker")).to_have_attribute("data-transport", "sse")
    posted = [(await admin.post(slug, f"Uppdatering {n} via SSE."))["entry"] for n in range(3)]
    await expect(embed.locator(".entries > .entry")).to_have_count(4)
    assert await embed.locator(".entries > .entry").evaluate_all("els => els.map(e => e.id)") == [
        f"entry-{e['id']}" for e in reversed([first, *posted])
    ]
    assert await streams[0].header_value("origin") == sites.partner.origin
    assert node.services.hub.stats()["readers"] == 1
    assert [r.partner for r in node.services.hub.readers] == ["gp"]  # counted for the partner
    await page.close()


async def test_the_script_embed_shows_reconnecting_across_a_restart_and_resumes_without_loss_or_twins(
    browser: Browser, tmp_path: Path, sites: Sites
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ticker.db"
    await upgrade(url)
    store = Store(url)
    admin = await add_user(store, "ada", "Ada Admin", "admin")
    token = await create_token(store, admin)
    await add_partner(store, "gp", [sites.partner.origin], max_origins=20)
    env = {"TICKER_DATABASE_URL": url, "TICKER_SECRET": "embed-restart"}
    with ServerProcess(tmp_path, env) as server:
        reporter = Reporter(server.url, token)
        slug = await reporter.incident("Strömavbrott i Malmö")
        before = (await reporter.post(slug, "Före omstarten."))["entry"]
        sites.partner.pages["/embed.html"] = page_with(script_embed(server.url, slug))
        page = await browser.new_page()
        await page.goto(sites.partner.url("/embed.html"))
        embed = page.locator("ticker-live")
        conn = embed.locator(".conn")
        await expect(conn).to_have_attribute("data-state", "live")
        await expect(embed.locator(".entries > .entry")).to_have_count(1)

        await asyncio.to_thread(server.stop)
        await expect(conn).to_have_attribute("data-state", "reconnecting")
        await expect(conn).to_have_text("Återansluter…")
        author = Author(admin.id, admin.display_name)
        meanwhile = [  # committed while the node is down, as another node would
            (
                await store.write(
                    post_entry(slug, author, clean_html(f"Under omstarten {n}."), "23:0{n}", False, False)
                )
            ).body["entry"]
            for n in range(2)
        ]
        await asyncio.to_thread(server.start)
        await expect(conn).to_have_attribute("data-state", "live")
        await expect(conn).to_have_text("Live")
        await expect(embed.locator(".ticker")).to_have_attribute("data-transport", "websocket")  # not downgraded
        after = (await reporter.post(slug, "Efter omstarten."))["entry"]

        await expect(embed.locator(".entries > .entry")).to_have_count(4)
        assert await embed.locator(".entries > .entry").evaluate_all("els => els.map(e => e.id)") == [
            f"entry-{e['id']}" for e in reversed([before, *meanwhile, after])
        ]
        await page.close()
        await reporter.aclose()
    await store.close()
