"""The reader's views (issue 16): "Bara viktigaste" (?visa=viktigast) and "Äldst först" (?ordning=aldst) rendered on
the server without JavaScript, kept live in the browser where the view says, paged the right way by "Visa fler",
and the same two as options of the embeds (key_events, order)."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, Page, expect

from tests.support.node import Node, Reporter, node_settings, running_node

expect.set_options(timeout=15_000)


async def ids(page: Page, selector: str = "#incident .entries > .entry") -> list[int]:
    found: list[str] = await page.locator(selector).evaluate_all("els => els.map(e => e.dataset.id)")
    return [int(i) for i in found]


async def story(node: Node) -> tuple[Reporter, str, list[int]]:
    """An incident of five entries: the first, third and fifth key events."""
    editor = await node.reporter()
    slug = await editor.incident("Storm över kusten")
    posted = []
    for n in range(1, 6):
        entry = (await editor.post(slug, f"Uppdatering {n}", label=f"10:0{n}", key_event=n % 2 == 1))["entry"]
        posted.append(entry["id"])
    return editor, slug, posted


async def test_each_view_is_rendered_on_the_server_without_javascript(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, page_entries=2)) as node:
        _editor, slug, (e1, e2, e3, e4, e5) = await story(node)
        context = await browser.new_context(java_script_enabled=False, locale="sv-SE")
        page = await context.new_page()

        await page.goto(f"{node.url}/i/{slug}")
        assert await ids(page) == [e5, e4]
        await expect(page.locator(".views [aria-current]")).to_have_text(["Alla uppdateringar", "Nyast först"])

        await page.get_by_role("link", name="Bara viktigaste").click()
        assert page.url == f"{node.url}/i/{slug}?visa=viktigast"
        assert await ids(page) == [e5, e3]
        await page.locator(".more").click()  # the next page of key events, older
        assert await ids(page) == [e1]
        assert "visa=viktigast" in page.url and f"before={e3}" in page.url

        await page.goto(f"{node.url}/i/{slug}?visa=viktigast")
        await page.get_by_role("link", name="Äldst först").click()  # the view kept, the order changed
        assert page.url == f"{node.url}/i/{slug}?visa=viktigast&ordning=aldst"
        assert await ids(page) == [e1, e3]
        await page.locator(".more").click()
        assert await ids(page) == [e5]

        await page.goto(f"{node.url}/i/{slug}?ordning=aldst")
        assert await ids(page) == [e1, e2]
        await expect(page.locator(".more")).to_have_attribute("href", f"/i/{slug}?ordning=aldst&after={e2}")
        await page.locator(".more").click()
        assert await ids(page) == [e3, e4]
        # The canonical URL is the incident's, whatever the view; the other language keeps the view.
        await expect(page.locator("link[rel=canonical]")).to_have_attribute("href", f"{node.url}/i/{slug}")
        await expect(page.locator("a.lang")).to_have_attribute("href", f"/i/{slug}?ordning=aldst&after={e2}&lang=en")
        await context.close()

        async with httpx.AsyncClient(base_url=node.url) as client:
            # Each view is a page of its own for a cache (its own ETag), and a bad value is refused, named.
            tags = {
                (await client.get(f"/i/{slug}{q}")).headers["etag"] for q in ("", "?visa=viktigast", "?ordning=aldst")
            }
            assert len(tags) == 3
            refused = await client.get(f"/i/{slug}?ordning=baklanges")
            assert refused.status_code == 422 and refused.json()["field"] == "ordning"
            refused = await client.get(f"/i/{slug}?ordning=aldst&before={e3}")
            assert refused.status_code == 422 and refused.json()["field"] == "before"
            # The API behind "Visa fler" pages both ways, key events only on request.
            page_ = (await client.get(f"/api/incidents/{slug}/entries", params={"after": e1, "key_events": 1})).json()
            assert [e["id"] for e in page_["entries"]] == [e3, e5]
            both = await client.get(f"/api/incidents/{slug}/entries", params={"after": e1, "before": e5})
            assert both.status_code == 422 and both.json()["field"] == "after"


async def test_views_stay_live_in_the_browser_where_the_view_says(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, page_entries=2)) as node:
        editor, slug, (e1, e2, e3, e4, e5) = await story(node)
        key_page = await browser.new_page(locale="sv-SE")
        await key_page.goto(f"{node.url}/i/{slug}?visa=viktigast")
        oldest = await browser.new_page(locale="sv-SE")
        await oldest.goto(f"{node.url}/i/{slug}?ordning=aldst")
        for page in (key_page, oldest):
            await expect(page.locator(".conn")).to_have_attribute("data-state", "live")

        plain = (await editor.post(slug, "Vanlig uppdatering", label="10:10"))["entry"]["id"]
        key = (await editor.post(slug, "Viktig uppdatering", label="10:11", key_event=True))["entry"]["id"]
        await expect(key_page.locator(f"#entry-{key}")).to_be_visible()
        assert await ids(key_page) == [key, e5, e3]  # the key event on top; the plain entry is not in this view
        await expect(key_page.locator(f"#entry-{plain}")).to_have_count(0)
        # An entry made a key event joins the view in its place; one that stops being one leaves it.
        await editor.call("PATCH", f"/api/incidents/{slug}/entries/{e4}", json={"key_event": True})
        await expect(key_page.locator(f"#entry-{e4}")).to_be_visible()
        assert await ids(key_page) == [key, e5, e4, e3]
        await editor.call("PATCH", f"/api/incidents/{slug}/entries/{e5}", json={"key_event": False})
        await expect(key_page.locator(f"#entry-{e5}")).to_have_count(0)
        await key_page.locator(".more").click()  # "Visa fler": older key events only
        await expect(key_page.locator(f"#entry-{e1}")).to_be_visible()
        assert await ids(key_page) == [key, e4, e3, e1]
        await expect(key_page.locator(".more")).to_have_count(0)

        # Oldest first: while newer pages are still to load, a new entry waits for them; "Visa fler" reads newer
        # entries, and once the page reaches the end, new entries go to the bottom.
        assert await ids(oldest) == [e1, e2]
        await oldest.locator(".more").click()
        await expect(oldest.locator(f"#entry-{e4}")).to_be_visible()
        assert await ids(oldest) == [e1, e2, e3, e4]
        for _ in range(2):
            if await oldest.locator(".more").count():
                await oldest.locator(".more").click()
        await expect(oldest.locator(".more")).to_have_count(0)
        assert await ids(oldest) == [e1, e2, e3, e4, e5, plain, key]
        last = (await editor.post(slug, "Senaste nytt", label="10:12"))["entry"]["id"]
        await expect(oldest.locator(f"#entry-{last}")).to_be_visible()
        assert (await ids(oldest))[-1] == last
        await key_page.close()
        await oldest.close()


async def test_both_embed_options_key_events_and_order(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor, slug, (_e1, _e2, e3, _e4, e5) = await story(node)
        url = f"{node.url}/embed/{slug}?key_events=1&order=oldest&entries=2"
        context = await browser.new_context(java_script_enabled=False, locale="sv-SE")
        static = await context.new_page()
        await static.goto(url)  # without JavaScript: the server's entries, the newest two key events, oldest first
        assert await ids(static, ".embed-fallback .entries > .entry") == [e3, e5]
        await context.close()

        page = await browser.new_page(locale="sv-SE")
        await page.goto(url)
        embed = page.locator("ticker-live")
        await expect(embed.locator(".conn")).to_have_attribute("data-state", "live")
        shown = embed.locator(".ticker .entries > .entry")  # the live box (the fallback stays in the light DOM)
        assert await shown.evaluate_all("els => els.map(e => Number(e.dataset.id))") == [e3, e5]
        plain = (await editor.post(slug, "Vanlig uppdatering"))["entry"]["id"]
        key = (await editor.post(slug, "Viktig uppdatering", key_event=True))["entry"]["id"]
        await expect(embed.locator(f"#entry-{key}")).to_be_visible()
        # At the bottom, the oldest gone from the top; the plain entry never shown.
        assert await shown.evaluate_all("els => els.map(e => Number(e.dataset.id))") == [e5, key]
        assert await embed.locator(f"#entry-{plain}").count() == 0
        await page.close()

        async with httpx.AsyncClient(base_url=node.url) as client:
            state = (await client.get(f"/api/embed/{slug}", params={"key_events": "1", "order": "oldest"})).json()
            assert state["options"]["key_events"] is True and state["options"]["order"] == "oldest"
            assert all(e["key_event"] for e in state["entries"])
            refused = await client.get(f"/api/embed/{slug}", params={"order": "sideways"})
            assert refused.status_code == 422 and refused.json()["field"] == "order"
            assert re.search(r"order must be one of newest, oldest", refused.json()["message"])
