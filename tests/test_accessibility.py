"""Accessibility and the design pass (issue 13) in Chromium: axe-core finds nothing serious or critical on any
page (light and dark, Swedish and English, phone and desktop), every page starts with a skip link, screen
readers hear new and withdrawn entries but not the rest of the list, live text keeps its paragraphs apart,
permalinks keep the reader's language, and a browser meets errors as pages in its language. Also writes the
screenshots in docs/screenshots/ (TICKER_SCREENSHOTS=docs), taken of the same pages.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.newsroom import PASSWORD, login, login_in, open_desk, person
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.showcase import (
    DESKTOP,
    PAGES,
    PHONE,
    PageSpec,
    Shown,
    logged_in,
    new_context,
    serious_violations,
    showcase,
)

expect.set_options(timeout=15_000)
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# The pages shown in docs/screenshots (as NAME-phone.png and NAME-desktop.png), in the light theme, in Swedish.
DOCUMENTED = ("front", "incident", "embed", "login", "desk", "desk-incident")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def png_width(path: Path) -> int:
    width: int = struct.unpack(">I", path.read_bytes()[16:20])[0]
    return width


async def open_spec(context: BrowserContext, node: Node, shown: Shown, spec: PageSpec, lang: str) -> Page:
    page = await context.new_page()
    response = await page.goto(spec.url(node, shown, lang))
    assert response is not None and response.status == spec.status, (spec.name, lang)
    if spec.ready:
        await expect(page.locator(spec.ready)).to_be_attached()
    return page


async def skip_link_problems(page: Page) -> list[str]:
    """The first Tab reaches a visible skip link, which leads into the page's main content."""
    await page.keyboard.press("Tab")
    focused = await page.evaluate(
        """() => { const a = document.activeElement; const box = a.getBoundingClientRect();
                   return {cls: a.className, href: a.getAttribute("href"), top: box.top, height: box.height}; }"""
    )
    if focused["cls"] != "skip-link":
        return [f"the first Tab focuses {focused}, not the skip link"]
    if focused["top"] < 0 or focused["height"] == 0:
        return [f"the focused skip link is not in view: {focused}"]
    await page.keyboard.press("Enter")
    target = await page.evaluate("() => document.querySelector(location.hash)?.tagName")
    if target != "MAIN":
        return [f"the skip link leads to {focused['href']} ({target}), not to the main content"]
    return []


@pytest.mark.timeout(600)  # 13 pages × 2 languages, each checked 4 times (2 themes × 2 widths) on a loaded machine
async def test_every_page_passes_axe_in_both_themes_languages_and_widths_and_starts_with_a_skip_link(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    shots = DOCS_SCREENSHOTS if os.environ.get("TICKER_SCREENSHOTS") == "docs" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    async with running_node(node_settings(sqlite_url, site_name="Kvällsnytt")) as node:
        shown = await showcase(node)
        for lang in ("sv", "en"):
            reader, desk = await new_context(browser, lang), await logged_in(browser, node, lang)
            for spec in PAGES:
                page = await open_spec(desk if spec.desk else reader, node, shown, spec, lang)
                for theme in ("light", "dark"):
                    await page.emulate_media(color_scheme=theme)
                    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
                        await page.set_viewport_size(viewport)  # type: ignore[arg-type]
                        found = await serious_violations(page)
                        problems += [f"{spec.name} ({lang}, {theme}, {width}): {v}" for v in found]
                        if lang == "sv" and theme == "light" and spec.name in DOCUMENTED:
                            path = shots / f"{spec.name}-{width}.png"
                            await page.screenshot(path=str(path), full_page=True)
                            assert png_width(path) == viewport["width"]
                            assert path.stat().st_size > 6_000  # drawn (a blank page is about 2 KB)
                if spec.skip_link:
                    problems += [f"{spec.name} ({lang}): {p}" for p in await skip_link_problems(page)]
                await page.close()
            await reader.close()
            await desk.close()
    assert not problems, "\n".join(problems)


async def test_a_live_key_event_keeps_its_paragraphs_apart_in_the_box_and_on_the_front_page(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        context = await new_context(browser)
        page, front = await context.new_page(), await context.new_page()
        await page.goto(f"{node.url}/i/{slug}")
        await front.goto(f"{node.url}/")
        for opened in (page, front):
            await expect(opened.locator(".conn")).to_have_attribute("data-state", "live")
        body = "<p>Bild</p><p>https://bilder.example/hamnen.jpg</p><ul><li>ett</li><li>två</li></ul>Slut<br>rad"
        await editor.post(slug, body, label="22:37", key_event=True)
        said = "Bild https://bilder.example/hamnen.jpg ett två Slut rad"
        await expect(page.locator(".key-events li")).to_have_text(f"22:37 {said}")
        await expect(front.locator(".card .latest-text")).to_have_text(said)
        await page.reload()  # the server's box says the same
        await expect(page.locator(".key-events li")).to_have_text(f"22:37 {said}")
        await context.close()


async def test_permalinks_keep_the_readers_language_on_the_page_live_and_in_the_embed(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url, page_entries=2)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över Gotland")
        old = (await editor.post(slug, "Färjorna står still.", label="06:00", key_event=True))["entry"]
        served = [(await editor.post(slug, f"Vinden tilltar {n}.", label=f"06:1{n}"))["entry"] for n in range(2)]
        context = await new_context(browser, "en")
        page = await context.new_page()
        await page.goto(f"{node.url}/i/{slug}?lang=en")
        await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
        for entry in served:  # rendered by the server
            await expect(page.locator(f"#entry-{entry['id']} .permalink")).to_have_attribute(
                "href", f"/i/{slug}/e/{entry['id']}?lang=en"
            )
        key_link = page.locator(f'.key-events li[data-id="{old["id"]}"] a')  # older than the page: its permalink
        await expect(key_link).to_have_attribute("href", f"/i/{slug}/e/{old['id']}?lang=en")
        new = (await editor.post(slug, "Broarna stängs.", label="06:30"))["entry"]  # filled in by live.js
        link = page.locator(f"#entry-{new['id']} .permalink")
        await expect(link).to_have_attribute("href", f"/i/{slug}/e/{new['id']}?lang=en")
        await expect(link).to_have_accessible_name("Update 06:30")  # the time, named for what it is
        await link.click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator(".permalink-page .body")).to_have_text("Broarna stängs.")

        embed = await context.new_page()
        await embed.goto(f"{node.url}/embed/{slug}?lang=en")
        shadow = embed.locator("ticker-live .ticker")  # the live shadow tree, not the page without JavaScript
        await expect(shadow.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(shadow.locator(f"#entry-{new['id']} .permalink")).to_have_attribute(
            "href", re.compile(rf"/i/{slug}/e/{new['id']}\?lang=en$")
        )
        await context.close()


async def test_a_browser_meets_errors_as_pages_in_its_language_and_clients_keep_json(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        for lang, heading, incident in (
            ("sv", "Sidan finns inte.", "Händelsen finns inte."),
            ("en", "There is no such page.", "No such incident."),
        ):
            context = await new_context(browser, lang)  # Accept-Language from the browser's locale, no ?lang=
            page = await context.new_page()
            response = await page.goto(f"{node.url}/finns/inte")
            assert response is not None and response.status == 404
            assert response.headers["content-type"].startswith("text/html")
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            await expect(page.locator("h1")).to_have_text(heading)
            await expect(page).to_have_title(re.compile(rf"^{re.escape(heading)} – "))
            await expect(page.locator("main a[href]")).to_have_attribute("href", "/" if lang == "sv" else "/?lang=en")
            response = await page.goto(f"{node.url}/i/finns-inte")
            assert response is not None and response.status == 404
            await expect(page.locator("h1")).to_have_text(incident)
            response = await page.goto(f"{node.url}/search?q={'x' * 500}")  # bad input: 422, as a page
            assert response is not None and response.status == 422
            await expect(page.locator("h1")).to_have_text(re.compile(r"."))
            await context.close()
        english = await new_context(browser, "sv")
        page = await english.new_page()
        await page.goto(f"{node.url}/finns/inte?lang=en")  # ?lang= wins over the browser's language
        await expect(page.locator("h1")).to_have_text("There is no such page.")
        await english.close()

        async with httpx.AsyncClient(base_url=node.url) as client:
            for path, accept in (
                ("/finns/inte", "*/*"),  # fetch() and httpx
                ("/finns/inte", "application/json"),
                ("/finns/inte", "application/json, text/html;q=0.5"),
                ("/api/finns-inte", BROWSER_ACCEPT),  # the API answers JSON whoever asks
                ("/api/incidents/finns-inte", BROWSER_ACCEPT),
            ):
                answer = await client.get(path, headers={"Accept": accept})
                assert answer.status_code == 404, (path, accept)
                assert answer.json()["error"] == "not_found", (path, accept)
            page_answer = await client.get("/finns/inte", headers={"Accept": BROWSER_ACCEPT})
            assert page_answer.status_code == 404 and page_answer.headers["content-type"].startswith("text/html")
            assert "Accept" in page_answer.headers["vary"]
            wrong_method = await client.delete("/", headers={"Accept": BROWSER_ACCEPT})
            assert wrong_method.status_code == 405 and "<h1>" in wrong_method.text
            assert "GET" in wrong_method.headers["allow"]


async def test_new_and_withdrawn_entries_are_announced_and_the_lists_are_not_live_regions(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Polisjakt genom centrum")
        base = f"/api/incidents/{slug}/entries"
        context = await new_context(browser)
        reader = await context.new_page()
        await reader.goto(f"{node.url}/i/{slug}")
        embed = await context.new_page()
        await embed.goto(f"{node.url}/embed/{slug}")
        await person(node, "lisa", "reporter")
        desk = await login(browser, node, "lisa", PASSWORD)
        await open_desk(desk, node, slug)
        shadow = embed.locator("ticker-live .ticker")  # the live shadow tree, not the page without JavaScript
        await expect(shadow.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")
        regions = {
            "reader": (reader.locator("#announcer"), reader.locator(".entries")),
            "embed": (shadow.locator(".announcer"), shadow.locator(".entries")),
            "desk": (desk.locator("#desk-announcer"), desk.locator(".desk-entries")),
        }
        for name, (announcer, entries) in regions.items():
            await expect(announcer, name).to_have_attribute("aria-live", "polite")
            live_lists = await entries.evaluate("el => Boolean(el.closest('[aria-live], [role=log], [role=status]'))")
            assert not live_lists, f"{name}: the list is inside a live region"

        wrong = (await editor.post(slug, "Bilen har krockat vid torget.", label="22:48"))["entry"]
        for name, (announcer, _entries) in regions.items():
            await expect(announcer, name).to_contain_text("22:48: Bilen har krockat vid torget.")
        await editor.call("POST", f"{base}/{wrong['id']}/retract", json={"correction": "Uppgiften stämde inte."})
        said = "Uppdateringen 22:48 har dragits tillbaka: Uppgiften stämde inte."
        await expect(regions["reader"][0]).to_have_text(said)
        await expect(regions["embed"][0]).to_have_text(said)
        await expect(regions["desk"][0]).to_have_text("Inlägget 22:48 har dragits tillbaka: Uppgiften stämde inte.")
        gone = (await editor.post(slug, "Fel bild.", label="22:50"))["entry"]
        await expect(regions["reader"][0]).to_contain_text("Fel bild.")
        await editor.call("POST", f"{base}/{gone['id']}/retract", json={})
        await expect(regions["reader"][0]).to_have_text("Uppdateringen 22:50 har dragits tillbaka.")
        await expect(reader.locator(f"#entry-{gone['id']}")).to_have_count(0)
        await expect(regions["embed"][0]).to_have_text("Uppdateringen 22:50 har dragits tillbaka.")
        await context.close()
        await desk.context.close()


async def test_the_phone_desk_tells_no_keyboard_shortcut_and_logout_is_a_quiet_button(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor: Reporter = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        await person(node, "lisa", "reporter")
        phone = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, locale="sv-SE")  # type: ignore[arg-type]
        page = await login_in(await phone.new_page(), node, "lisa")
        desk = await login(browser, node, "lisa")  # a desk screen with a mouse
        for opened in (page, desk):
            await open_desk(opened, node, slug)
        composer = page.locator("#composer-body")
        assert "Ctrl" not in (await composer.get_attribute("placeholder") or "")
        await expect(page.locator(".hint")).to_be_hidden()  # a phone: no Ctrl+Enter
        await expect(desk.locator(".hint")).to_be_visible()  # a desk: the shortcut is told
        await expect(desk.locator(".hint")).to_have_text("Ctrl+Enter publicerar")
        for opened in (page, desk):
            post = await opened.locator("button.post").evaluate("b => getComputedStyle(b).backgroundColor")
            logout = await opened.locator(".logout button").evaluate("b => getComputedStyle(b).backgroundColor")
            assert post != logout, "Logga ut looks like Publicera"
            assert logout == "rgba(0, 0, 0, 0)"  # outlined, on the bar's own background
        await phone.close()
        await desk.context.close()
