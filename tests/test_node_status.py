"""The desk's status page (/desk/status, issue #14): every node live, for a newsroom without Grafana. In Chromium,
an admin watches two nodes sharing Redis: readers connecting to each node show up in that node's row, and leave
it again; nobody but an admin sees the page or its figures."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.live import LiveReader
from tests.support.newsroom import PASSWORD, login, person
from tests.support.node import Node, node_settings, running_node

FAST = 0.3  # node_stats_seconds: the nodes share their figures this often, so the test need not wait long


def row(page: Page, node: Node) -> Locator:
    address = node.url.removeprefix("http://")
    return page.locator("table.nodes tbody tr.node").filter(has=page.locator(".address", has_text=address))


async def test_two_nodes_readers_change_live_on_the_status_page(
    browser: Browser, sqlite_url: str, redis_server: Any
) -> None:
    settings = node_settings(sqlite_url, redis_server.url, node_stats_seconds=FAST)
    async with running_node(settings) as a, running_node(settings) as b:
        editor = await a.reporter()
        slug = await editor.incident("Brand i hamnen")
        await person(a, "ada", "admin")
        page = await login(browser, a, "ada", PASSWORD)
        await page.goto(f"{a.url}/desk/status")
        await expect(page.locator("h1")).to_have_text("Driftläge")
        await expect(page.locator("table.nodes tbody tr.node")).to_have_count(2)
        await expect(row(page, a).locator(".mark")).to_have_text("(den här noden)")
        for node in (a, b):
            await expect(row(page, node).locator(".readers")).to_have_text("0")
            await expect(row(page, node).locator(".broker")).to_have_text("ansluten")

        on_a = [await LiveReader.open(a.ws_url) for _ in range(3)]
        on_b = [await LiveReader.open(b.ws_url)]
        for reader in [*on_a, *on_b]:
            await reader.subscribe(slug, since=1)
        await expect(row(page, a).locator(".readers")).to_have_text("3")
        await expect(row(page, b).locator(".readers")).to_have_text("1")
        await expect(row(page, a).locator(".incidents")).to_have_text("1")

        await editor.post(slug, "Räddningstjänsten är på plats.")
        for reader in [*on_a, *on_b]:
            await reader.follow(slug, upto=2)

        for reader in on_a[:2]:
            await reader.close()
        more_on_b = [await LiveReader.open(b.ws_url) for _ in range(4)]
        for reader in more_on_b:
            await reader.subscribe(slug, since=1)
        await expect(row(page, a).locator(".readers")).to_have_text("1")
        await expect(row(page, b).locator(".readers")).to_have_text("5")
        await expect(page.locator(".status-note")).to_contain_text("Uppdaterad")
        for reader in [on_a[2], *on_b, *more_on_b]:
            await reader.close()


async def test_only_admins_see_the_status(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, node_stats_seconds=FAST)) as node:
        await person(node, "eva", "editor")
        page = await login(browser, node, "eva", PASSWORD)
        answer = await page.goto(f"{node.url}/desk/status")
        assert answer is not None and answer.status == 404
        assert await page.evaluate("fetch('/desk/status/nodes').then((r) => r.status)") == 403
        async with httpx.AsyncClient(base_url=node.url, timeout=15, trust_env=False) as anonymous:
            assert (await anonymous.get("/desk/status/nodes")).status_code == 401
            assert (await anonymous.get("/desk/status")).status_code == 303  # to the login form

        await person(node, "ada", "admin")
        admin = await login(browser, node, "ada", PASSWORD)
        await expect(admin.locator(".desk-bar a[href='/desk/status']")).to_be_visible()
        await expect(page.locator(".desk-bar a[href='/desk/status']")).to_have_count(0)
        nodes = await admin.evaluate("fetch('/desk/status/nodes').then((r) => r.json())")
        assert [n["this"] for n in nodes["nodes"]] == [True]  # no Redis: this node alone
        assert nodes["nodes"][0]["relay_lag_seconds"] == 0 and nodes["nodes"][0]["broker_listening"] is True
