"""Two nodes on one PostgreSQL and Redis: one polls (it holds the lease), each item is stored once, a desk open
on the other node sees new items live; kill the polling node and the other takes over within the lease, with
nothing missed or stored twice."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from tests.support.cli import ticker
from tests.support.newsroom import PASSWORD, new_page
from tests.support.services import RedisServer, ServerProcess
from tests.support.source_server import source_server
from tests.support.sources import police_event, police_events
from tests.support.waiting import eventually
from ticker.sources.lease import Lease
from ticker.sources.model import SourceItem
from ticker.sources.poller import LEASE
from ticker.store.sql import Store

LEASE_SECONDS = 2


async def test_one_node_polls_and_the_other_takes_over_when_it_dies(
    browser: Browser, postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TICKER_DATABASE_URL": postgres_url,
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_FETCH_ALLOW_LOOPBACK": "1",
        "TICKER_SOURCES_MIN_INTERVAL_SECONDS": "1",
        "TICKER_SOURCES_LEASE_SECONDS": str(LEASE_SECONDS),
        "TICKER_SOURCES_KEEP_HOURS": str(100 * 365 * 24),
    }
    store = Store(postgres_url)
    async with source_server() as fixture:
        fixture.answer("/api/events", police_events(police_event(700001, "Första händelsen.")))
        with ServerProcess(tmp_path, env) as one, ServerProcess(tmp_path, env) as two:
            ticker("user", "add", "eva", "--role", "editor", "--password", PASSWORD, env=env)
            ticker("source", "add", "Polisen", "--kind", "polisen", "--url", fixture.url("/api/events"),
                   "--interval", "1", "--place", "Södertälje", env=env)  # fmt: skip
            lease = Lease(store, LEASE, "", LEASE_SECONDS)
            await eventually(lambda: _stored(store, 1))
            holder = await lease.holder_now()
            assert holder is not None

            # Which node polls? Its log says so. Open the desk on the other one.
            polling, other = (one, two) if holder in one.log_text() else (two, one)  # its sources_polling line
            assert holder in polling.log_text() and holder not in other.log_text()
            page = await new_page(browser)
            await page.goto(f"{other.url}/login")
            await page.fill("input[name=name]", "eva")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form.login-form button[type=submit]")
            await expect(page.locator(".tips-conn")).to_have_attribute("data-state", "live")
            await expect(page.locator(".tips-list .tip", has_text="Första händelsen.")).to_have_count(1)

            # Polled on one node, shown live on the other.
            fixture.answer("/api/events", police_events(police_event(700002, "Andra händelsen."), _first()))
            await expect(page.locator(".tips-list .tip", has_text="Andra händelsen.")).to_have_count(1)

            # The polling node dies; events that arrive meanwhile are fetched by the other once it holds the lease.
            polling.kill()
            fixture.answer(
                "/api/events",
                police_events(police_event(700004, "Fjärde händelsen."), police_event(700003, "Tredje händelsen."),
                              police_event(700002, "Andra händelsen."), _first()),
            )  # fmt: skip
            await eventually(lambda: _stored(store, 4), timeout=LEASE_SECONDS + 20)
            assert await lease.holder_now() not in (None, holder)
            for text in ("Tredje händelsen.", "Fjärde händelsen."):
                await expect(page.locator(".tips-list .tip", has_text=text)).to_have_count(1)
            await expect(page.locator(".tips-list .tip")).to_have_count(4)
    async with store.reading() as session:
        ids = list(await session.scalars(select(SourceItem.external_id).order_by(SourceItem.id)))
    await store.close()
    assert sorted(ids) == ["700001", "700002", "700003", "700004"]  # each once


def _first() -> dict[str, object]:
    return police_event(700001, "Första händelsen.")


async def _stored(store: Store, count: int) -> bool:
    async with store.reading() as session:
        return (await session.scalar(select(func.count()).select_from(SourceItem))) == count
