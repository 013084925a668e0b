"""The desk's live feed in Chromium: reporters see each other's posts; an editor's edit and retraction reach
every desk and the reader page; each entry keeps its history."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Route, expect

from tests.support.newsroom import compose, entry, login, new_page, open_desk, person
from tests.support.node import node_settings, running_node
from tests.support.photos import phone_jpeg


async def test_two_reporters_and_a_reader_see_posts_edits_and_retractions_live(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        anna_name = await person(node, "anna")
        bo_name = await person(node, "bo")
        eva_name = await person(node, "eva", role="editor")
        anna, bo, eva = [await login(browser, node, name) for name in ("anna", "bo", "eva")]

        # The editor opens the incident from the desk.
        form = eva.locator("#incident-form")
        await form.locator("input[name=title]").fill("Brand i hamnen")
        await form.locator("input[name=category]").fill("Blåljus")
        # Its lead photo: uploaded with its alt text and credit before the incident is opened.
        await form.locator(".photo-add input[type=file]").set_input_files(
            {"name": "hamnen.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()}
        )
        await form.locator(".photo-item [data-field=alt]").fill("Rök över hamnen.")
        await form.locator(".photo-item [data-field=credit]").fill("Eva Svensson")
        await form.locator("button[type=submit]").click()
        await eva.wait_for_url(f"{node.url}/desk/i/brand-i-hamnen")
        slug = "brand-i-hamnen"
        for page in (anna, bo, eva):
            await open_desk(page, node, slug)
        reader = await new_page(browser)
        await reader.goto(f"{node.url}/i/{slug}")
        readers_entry = reader.locator(".entries .entry")
        await expect(reader.locator(".lead-photo img")).to_have_attribute("alt", "Rök över hamnen.")
        await expect(reader.locator(".lead-photo .photo-credit")).to_have_text("Foto: Eva Svensson")

        # The small formatting set, previewed before posting.
        await anna.fill("#composer-body", "Röken är **tät**, se [SMHI](https://www.smhi.se).")
        await anna.click(".preview-toggle")
        await expect(anna.locator(".composer .preview strong")).to_have_text("tät")
        await expect(anna.locator(".composer .preview a")).to_have_attribute("href", "https://www.smhi.se")
        await anna.click(".preview-toggle")
        await anna.fill("#composer-body", "")

        # Posting feels instant: "skickas…" at once, the confirmed entry when the server has answered.
        answer = asyncio.Event()

        async def held(route: Route) -> None:
            await answer.wait()
            await route.continue_()

        await anna.route(f"**/api/incidents/{slug}/entries", held)
        await compose(anna, "Räddningstjänsten är på plats.")
        sending = anna.locator(".desk-entries .pending", has_text="Räddningstjänsten är på plats.")
        await expect(sending.locator(".send-state")).to_have_text("skickas…")
        await expect(anna.locator("#composer-body")).to_have_value("")
        answer.set()
        await expect(entry(anna, "Räddningstjänsten är på plats.")).to_contain_text(anna_name)
        await expect(sending).to_have_count(0)
        await anna.unroute(f"**/api/incidents/{slug}/entries", held)
        for page in (bo, eva):
            await expect(entry(page, "Räddningstjänsten är på plats.")).to_contain_text(anna_name)
        await expect(readers_entry.filter(has_text="Räddningstjänsten är på plats.")).to_be_visible()

        await compose(bo, "Röken syns över hela hamnen.")
        await expect(entry(anna, "Röken syns över hela hamnen.")).to_contain_text(bo_name)
        await expect(readers_entry.filter(has_text="Röken syns")).to_be_visible()

        # The editor corrects Anna's entry in place.
        annas = entry(eva, "Räddningstjänsten är på plats.")
        await annas.locator("button.edit").click()
        await annas.locator(".editor textarea").fill("Räddningstjänsten är på plats med **tre** enheter.")
        await annas.locator("button.save").click()
        for page in (anna, bo, eva):
            await expect(entry(page, "med tre enheter").locator("strong")).to_have_text("tre")
        await expect(readers_entry.filter(has_text="med tre enheter")).to_be_visible()
        await expect(readers_entry.filter(has_text="på plats.")).to_have_count(0)

        # … and retracts it, with a correction note.
        annas = entry(eva, "med tre enheter")
        await annas.locator("button.retract").click()
        await annas.locator("input[name=correction]").fill("Uppgiften om enheterna stämde inte.")
        await annas.locator("button.confirm-retract").click()
        for page in (anna, bo):
            retracted = page.locator(".desk-entries .entry.retracted")
            await expect(retracted).to_contain_text("Uppgiften om enheterna stämde inte.")
            await expect(page.locator(".desk-entries", has_text="med tre enheter")).to_have_count(0)
        await expect(reader.locator(".entries .entry.retracted")).to_contain_text("Uppgiften om enheterna stämde inte.")
        await expect(readers_entry.filter(has_text="med tre enheter")).to_have_count(0)

        # Who did what, and when, stays viewable in the desk.
        retracted = bo.locator(".desk-entries .entry.retracted")
        await retracted.locator("button.show-history").click()
        steps = retracted.locator(".history > li .what")
        await expect(steps).to_have_count(3)
        await expect(steps.nth(0)).to_contain_text(f"{anna_name} publicerade")
        await expect(steps.nth(1)).to_contain_text(f"{eva_name} redigerade")
        await expect(steps.nth(2)).to_contain_text(f"{eva_name} drog tillbaka")
        await expect(retracted.locator(".history > li").nth(0)).to_contain_text("Räddningstjänsten är på plats.")
        await expect(retracted.locator(".history > li").nth(1)).to_contain_text("med tre enheter")

        # Closed, posts are refused and say why in Swedish; the text comes back to the composer.
        await eva.locator("button.close-incident").click()
        await expect(anna.locator(".closed-note")).to_be_visible()
        await compose(anna, "Ett sent inlägg.")
        refused = anna.locator(".desk-entries .pending.failed")
        await expect(refused).to_contain_text("Händelsen är avslutad. Öppna den igen för att publicera.")
        await refused.locator("button.to-composer").click()
        await expect(anna.locator("#composer-body")).to_have_value("Ett sent inlägg.")
        await eva.locator("button.reopen-incident").click()
        await expect(anna.locator(".closed-note")).to_be_hidden()
        await anna.press("#composer-body", "Control+Enter")
        await expect(entry(bo, "Ett sent inlägg.")).to_be_visible()
