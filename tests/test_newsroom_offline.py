"""Field mode in Chromium: posts written offline survive a reload and are published once each, in order; a post
written after the session expired waits for the next login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Route, expect
from sqlalchemy import update

from tests.support.newsroom import at_desk, compose, entry, incident, login_in
from tests.support.node import node_settings, running_node
from ticker.store.newsroom import LoginSession

TEXTS = ["Första rapporten från platsen.", "Polisen spärrar av Storgatan.", "Två personer förs till sjukhus."]


async def test_offline_posts_survive_a_reload_and_are_published_once_each_in_order(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Olycka på E6")
        page = await at_desk(browser, node, "anna", slug)
        # The service worker has kept the desk, so it reloads without a connection.
        await expect(page.locator(".desk-incident")).to_have_attribute("data-offline-ready", "true")

        await page.context.set_offline(True)
        for text in TEXTS:
            await compose(page, text)
        queued = page.locator(".desk-entries .pending")
        await expect(queued).to_have_count(3)
        await expect(queued.locator(".send-state")).to_have_text(["i kö"] * 3)
        await expect(page.locator(".outbox-count")).to_have_text("3 i kö")

        assert await page.evaluate("fetch('/healthz').then(() => 'answered', () => 'offline')") == "offline"
        reloaded = await page.reload()
        assert reloaded is not None and reloaded.from_service_worker  # kept by the service worker
        await expect(queued.locator(".entry-body")).to_have_text(TEXTS)  # oldest first, as written
        assert (await tool.state(slug))["entries"] == {}

        # The answer to the first post is lost on the way back: the desk sends it again, with the same key.
        lost: list[str] = []

        async def lose_first_answer(route: Route) -> None:
            if route.request.method == "POST" and not lost:
                await route.fetch()  # the server commits the entry …
                lost.append(route.request.headers["idempotency-key"])
                await route.abort()  # … and the desk never hears of it
            else:
                await route.fallback()

        await page.route(f"**/api/incidents/{slug}/entries", lose_first_answer)
        await page.context.set_offline(False)
        await expect(queued).to_have_count(0, timeout=20_000)
        for text in TEXTS:
            await expect(entry(page, text)).to_have_count(1)
        assert lost, "the first answer was meant to be lost"

        stored = (await tool.state(slug))["entries"]
        assert [stored[i]["body"] for i in sorted(stored)] == [f"<p>{text}</p>" for text in TEXTS]
        events = await node.services.store.events_after(slug, 0)
        assert [e.seq for e in events] == [1, 2, 3, 4]  # the incident, then exactly three posts
        outboxes = await page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ticker.outbox.'))")
        assert [await page.evaluate(f"localStorage.getItem('{key}')") for key in outboxes] == ["[]"]


async def test_a_post_written_after_the_session_expired_is_kept_and_sent_after_the_next_login(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Översvämning i Kungälv")
        page = await at_desk(browser, node, "anna", slug)
        async with node.services.store.writing() as session:  # the session runs out while the desk is open
            await session.execute(update(LoginSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))

        await compose(page, "Vattnet stiger vid Nordre älv.")
        await expect(page.locator(".desk-problem")).to_have_text(
            "Din session har gått ut. Logga in igen i en ny flik – det du skrivit finns kvar här."
        )
        kept = page.locator(".desk-entries .pending", has_text="Vattnet stiger vid Nordre älv.")
        await expect(kept).to_have_count(1)

        await login_in(await page.context.new_page(), node, "anna")  # logged in again, in another tab
        await page.bring_to_front()
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # back to the desk's tab
        await expect(entry(page, "Vattnet stiger vid Nordre älv.")).to_have_count(1)
        await expect(kept).to_have_count(0)
        await expect(page.locator(".desk-problem")).to_be_hidden()
        bodies = [e["body"] for e in (await tool.state(slug))["entries"].values()]
        assert bodies == ["<p>Vattnet stiger vid Nordre älv.</p>"]
