"""Roles in Chromium and the API: a reporter changes only their own entries; a contributor's post stays off the
reader page until an editor approves it."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.support.newsroom import at_desk, compose, entry, fetch, incident, login, new_page, open_desk, person
from tests.support.node import node_settings, running_node


async def test_a_reporter_cannot_edit_or_retract_another_reporters_entry(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Strömavbrott i Majorna")
        anna, bo = await at_desk(browser, node, "anna", slug), await at_desk(browser, node, "bo", slug)
        await compose(anna, "Ellevio felsöker nätet.")
        await expect(bo.locator(".composer input[name=label]")).to_have_value(re.compile(r"^\d\d:\d\d$"))
        await bo.fill(".composer input[name=label]", "07:05")  # the time label is filled in, and editable
        await compose(bo, "Tusentals hushåll saknar ström.")
        await expect(entry(anna, "Tusentals hushåll saknar ström.").locator(".label")).to_have_text("07:05")

        annas, bos = entry(bo, "Ellevio felsöker nätet."), entry(bo, "Tusentals hushåll saknar ström.")
        await expect(bos.locator("button.edit")).to_be_visible()
        await expect(bos.locator("button.retract")).to_be_visible()
        await expect(annas.locator("button.show-history")).to_be_visible()
        await expect(annas.locator("button.edit")).to_have_count(0)
        await expect(annas.locator("button.retract")).to_have_count(0)
        await bo.reload()  # the same after a reload, when the page is built from the stored state
        await expect(entry(bo, "Ellevio felsöker nätet.").locator("button.show-history")).to_be_visible()
        await expect(entry(bo, "Ellevio felsöker nätet.").locator("button.edit")).to_have_count(0)
        await expect(entry(bo, "Tusentals hushåll saknar ström.").locator("button.edit")).to_be_visible()

        entries = (await tool.state(slug))["entries"]
        annas_id = next(i for i, e in entries.items() if "Ellevio" in e["body"])
        path = f"/api/incidents/{slug}/entries/{annas_id}"
        edited = await fetch(bo, "PATCH", path, {"body": "Bo skriver om Annas inlägg."})
        assert edited["status"] == 403 and edited["body"]["error"] == "forbidden", edited
        retracted = await fetch(bo, "POST", path + "/retract", {})
        assert retracted["status"] == 403 and retracted["body"]["error"] == "forbidden", retracted
        assert (await tool.state(slug))["entries"][annas_id] == entries[annas_id]  # unchanged

        # Her own, she may.
        own = await fetch(anna, "PATCH", path, {"body": "Ellevio har hittat felet."})
        assert own["status"] == 200 and own["body"]["entry"]["body"] == "<p>Ellevio har hittat felet.</p>"


async def test_a_contributors_post_stays_off_the_reader_page_until_an_editor_approves_it(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Storm över Västkusten")
        cia_name = await person(node, "cia", role="contributor")
        eva_name = await person(node, "eva", role="editor")
        reader = await new_page(browser)
        await reader.goto(f"{node.url}/i/{slug}")

        cia = await login(browser, node, "cia")
        await open_desk(cia, node, slug)
        await expect(cia.locator("button.post")).to_have_text("Skicka för granskning")
        await compose(cia, "Träd har blåst ner över vägen vid Tjörnbron.")
        await expect(cia.locator(".desk-problem")).to_contain_text("Skickat för granskning")
        await expect(cia.locator(".submissions .submission.pending")).to_contain_text("väntar på granskning")
        await expect(cia.locator(".desk-entries .pending")).to_have_count(0)

        # No event: an entry posted after the submission reaches the reader, the submission does not.
        await tool.post(slug, "Vindbyarna når 30 meter per sekund.")
        await expect(reader.locator(".entries .entry", has_text="30 meter per sekund")).to_be_visible()
        await expect(reader.locator(".entries", has_text="Tjörnbron")).to_have_count(0)
        assert not any("Tjörnbron" in e["body"] for e in (await tool.state(slug))["entries"].values())

        eva = await login(browser, node, "eva")
        await open_desk(eva, node, slug)
        waiting = eva.locator(".submissions .submission", has_text="Tjörnbron")
        await expect(waiting).to_contain_text(cia_name)
        await waiting.locator("button.approve").click()
        await expect(eva.locator(".submissions .submission")).to_have_count(0)

        published = reader.locator(".entries .entry", has_text="Tjörnbron")
        await expect(published).to_be_visible()
        await expect(published).to_contain_text(cia_name)  # the contributor's byline
        await expect(entry(cia, "Tjörnbron")).to_be_visible()  # live in the contributor's desk too
        await expect(entry(cia, "Tjörnbron").locator("button.edit")).to_have_count(0)

        history = entry(eva, "Tjörnbron")
        await history.locator("button.show-history").click()
        await expect(history.locator(".history > li .what")).to_have_count(2)
        await expect(history.locator(".history > li .what").nth(0)).to_contain_text(f"{cia_name} skickade in")
        await expect(history.locator(".history > li .what").nth(1)).to_contain_text(f"{eva_name} godkände")
