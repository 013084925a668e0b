"""The "Händelser" panel in Chromium: a police event that matches the filter appears on an open desk within
the poll interval, once; changed by the police it shows as changed; a VMA stands out; and an editor starts a
ticker from an item, whose incident and first entry the reader page shows."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.support.newsroom import login, new_page, person
from tests.support.node import Node, running_node
from tests.support.source_server import SourceServer, recorded, source_server
from tests.support.sources import add_source, admin, police_event, police_events, sources_settings
from tests.support.waiting import eventually


def tip(page: Page, text: str) -> object:
    return page.locator(".tips-list .tip", has_text=text)


async def open_panel(browser: Browser, node: Node, name: str, role: str = "editor") -> Page:
    await person(node, name, role)
    page = await login(browser, node, name)
    await expect(page.locator(".tips-conn")).to_have_attribute("data-state", "live")
    return page


async def watch_police(node: Node, fixture: SourceServer) -> None:
    fixture.answer("/api/events", police_events(police_event(600001, "En äldre händelse.")))
    await add_source(
        await admin(node), "Polisen", fixture.url("/api/events"), places=["Södertälje"], types=["Trafikbrott"]
    )


async def test_a_new_event_appears_live_once_and_shows_as_changed(browser: Browser, sqlite_url: str) -> None:
    async with source_server() as fixture, running_node(sources_settings(sqlite_url)) as node:
        await watch_police(node, fixture)
        eva = await open_panel(browser, node, "eva")
        await expect(tip(eva, "En äldre händelse.")).to_have_count(1)

        # A new event that matches the filter, and one that does not, while the desk is open.
        fresh = police_event(600002, "En bilist stoppas på E4 efter att ha kört i 160 km/h.")
        elsewhere = police_event(600003, "Fortkörning i Göteborg.", place="Göteborg")
        fixture.answer("/api/events", police_events(fresh, elsewhere, police_event(600001, "En äldre händelse.")))
        item = tip(eva, "160 km/h")
        await expect(item).to_have_count(1)
        await expect(item.locator(".tip-source")).to_have_text("Polisen")
        await expect(item.locator(".tip-type")).to_have_text("Trafikbrott")
        await expect(item.locator(".tip-place")).to_have_text("Södertälje")
        await expect(item.locator(".tip-title a")).to_have_attribute(
            "href", fixture.url("/aktuellt/handelser/2026/november/30/600002/")
        )
        await expect(eva.locator(".tips-list .tip").first).to_contain_text("160 km/h")  # newest first
        # A screen reader hears the new item, not the whole list (the list is no live region).
        await expect(eva.locator("#tips-announcer")).to_contain_text("Ny händelse från Polisen: ")
        assert await eva.locator(".tips-list").evaluate("list => list.closest('[aria-live]') === null")

        # The same answer again (new polls, a new ETag for a reordered list): still shown once.
        polls = len(fixture.seen("/api/events"))
        fixture.answer("/api/events", police_events(police_event(600001, "En äldre händelse."), fresh))
        await eventually(lambda: len(fixture.seen("/api/events")) > polls + 1)
        await expect(tip(eva, "160 km/h")).to_have_count(1)
        await expect(tip(eva, "Fortkörning i Göteborg")).to_have_count(0)
        await expect(eva.locator(".tips-list .tip")).to_have_count(2)

        # The police change the event: shown as changed, still once.
        changed = police_event(600002, "En bilist stoppas på E4 efter att ha kört i 160 km/h. Körkortet omhändertogs.")
        fixture.answer("/api/events", police_events(changed))
        item = tip(eva, "Körkortet omhändertogs")
        await expect(item.locator(".badge.changed")).to_have_text("Uppdaterad")
        await expect(eva.locator("#tips-announcer")).to_contain_text("Uppdaterad händelse från Polisen: ")
        await expect(tip(eva, "160 km/h")).to_have_count(1)

        # Dismissed on one desk: gone from another that was open all along.
        bo = await open_panel(browser, node, "bo")
        await tip(eva, "En äldre händelse.").locator("button.dismiss").click()
        await expect(tip(bo, "En äldre händelse.")).to_have_count(0)
        await expect(tip(eva, "En äldre händelse.")).to_have_count(0)


async def test_a_vma_is_highlighted(browser: Browser, sqlite_url: str) -> None:
    async with source_server() as fixture, running_node(sources_settings(sqlite_url)) as node:
        fixture.answer("/v3/vmas", recorded("krisinformation-vmas.json"))
        fixture.answer("/v3/news", recorded("krisinformation-news.json"))
        tool = await admin(node)
        await add_source(
            tool, "Krisinformation VMA", fixture.url("/v3/vmas"), "krisinformation", places=["Stockholms län"]
        )
        await add_source(tool, "Krisinformation", fixture.url("/v3/news"), "krisinformation", places=["Stockholms län"])
        page = await open_panel(browser, node, "eva")
        vma = tip(page, "Viktigt meddelande till allmänheten i Södertälje")
        await expect(vma).to_have_class("tip vma")
        await expect(vma.locator(".badge.vma")).to_have_text("VMA")
        news = tip(page, "Störningar i vattenförsörjningen i Nykvarn")
        await expect(news).to_have_class("tip")
        await expect(tip(page, "Kraftiga vindar")).to_have_count(0)  # Västra Götaland: filtered out

        # The sources page: each source with its items and when it last answered.
        await page.goto(f"{node.url}/desk/sources")
        await expect(page.locator(".source")).to_have_count(2)
        await expect(page.locator(".source", has_text="Krisinformation VMA").locator(".source-items")).to_have_text(
            "1 händelser"
        )
        await expect(page.locator(".source-error")).to_have_count(0)


async def test_start_a_ticker_from_an_item(browser: Browser, sqlite_url: str) -> None:
    async with source_server() as fixture, running_node(sources_settings(sqlite_url)) as node:
        await watch_police(node, fixture)
        page = await open_panel(browser, node, "eva")
        item = tip(page, "En äldre händelse.")
        await item.locator("button.start-ticker").click()
        form = item.locator(".ticker-form")
        # Prefilled from the item, and editable before publishing.
        await expect(form.locator("input[name=title]")).to_have_value("Trafikbrott, Södertälje")
        await expect(form.locator("textarea[name=summary]")).to_have_value("En äldre händelse.")
        await expect(form.locator("input[name=location]")).to_have_value("Södertälje")
        await expect(form.locator("input[name=source_url]")).to_have_value(
            fixture.url("/aktuellt/handelser/2026/november/30/600001/")
        )
        await expect(form.locator("textarea[name=entry]")).to_have_value("Enligt Polisen: En äldre händelse.")
        await form.locator("input[name=title]").fill("Vild jakt på E4 vid Södertälje")
        await form.locator("textarea[name=entry]").fill("Enligt Polisen: En bil har stoppats på E4 vid Moraberg.")
        await form.locator("button.publish").click()
        await page.wait_for_url(f"{node.url}/desk/i/vild-jakt-pa-e4-vid-sodertalje")

        reader = await new_page(browser)
        await reader.goto(f"{node.url}/i/vild-jakt-pa-e4-vid-sodertalje")
        await expect(reader.locator("h1")).to_have_text("Vild jakt på E4 vid Södertälje")
        first = reader.locator(".entries .entry")
        await expect(first).to_have_count(1)
        await expect(first).to_contain_text("Enligt Polisen: En bil har stoppats på E4 vid Moraberg.")
        await expect(first.locator("a", has_text="Källa: Polisen")).to_have_attribute(
            "href", fixture.url("/aktuellt/handelser/2026/november/30/600001/")
        )
        # The desk's panel now links the item to its ticker.
        desk = await new_page(browser)
        await desk.context.add_cookies(await page.context.cookies())
        await desk.goto(f"{node.url}/desk")
        await expect(tip(desk, "En äldre händelse.").locator(".tip-ticker a")).to_have_attribute(
            "href", "/desk/i/vild-jakt-pa-e4-vid-sodertalje"
        )
