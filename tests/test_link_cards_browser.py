"""Link cards in Chromium (issue 15): a YouTube link is a static card, and until the reader clicks "Innehållet
visas från YouTube – klicka för att visa" the page asks nothing of any origin but ours (Playwright's request log);
after the click the player's request goes to the player's origin — a second loopback origin serving a tiny fake
player, so "another origin" is real and observable. The same holds for a card that arrives live and for the
embed's, and a page without JavaScript shows the static card, a plain link to the post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Request, expect

from tests.support import newsroom
from tests.support.card_providers import LINKS, Providers, card_providers
from tests.support.node import Node, node_settings, running_node
from tests.support.source_server import SourceServer, source_server
from tests.support.waiting import eventually

FAKE_PLAYER = b"<!doctype html><title>Spelare</title><p id='fake-player'>Den falska spelaren spelar.</p>"
CONSENT = "Innehållet visas från YouTube – klicka för att visa"


@asynccontextmanager
async def card_node(sqlite_url: str) -> AsyncIterator[tuple[Node, SourceServer, Providers]]:
    async with card_providers() as providers, source_server() as player:
        player.answer("/embed/dQw4w9WgXcQ", FAKE_PLAYER, content_type="text/html; charset=utf-8")
        settings = node_settings(
            sqlite_url,
            fetch_allow_loopback=True,
            card_endpoints=providers.endpoints(),
            card_players=f"youtube={player.url('')}",
        )
        async with running_node(settings) as node:
            yield node, player, providers


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RequestLog:
    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", self.seen)

    def seen(self, request: Request) -> None:
        self.urls.append(request.url)

    def origins(self) -> set[str]:
        return {origin(url) for url in self.urls if not url.startswith(("data:", "blob:", "about:"))}


async def test_a_youtube_card_loads_nothing_from_another_origin_until_the_click(
    browser: Browser, sqlite_url: str
) -> None:
    async with card_node(sqlite_url) as (node, player, _providers):
        editor = await node.reporter()
        slug = await editor.incident()
        link = LINKS["youtube"][0]
        first = (await editor.post(slug, f"Se klippet från räddningsinsatsen:\n\n{link}"))["entry"]
        assert first["cards"][0]["player"] == player.url("/embed/dQw4w9WgXcQ?autoplay=1")

        context = await browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
        page = await context.new_page()
        log = RequestLog(page)
        await page.goto(f"{node.url}/i/{slug}")
        await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
        card = page.locator(f"#entry-{first['id']} .link-card")
        await expect(card.locator(".card-title")).to_have_text("Räddningstjänsten släcker branden i Hammarby sjöstad")
        await expect(card.locator(".card-play")).to_have_text(CONSENT)
        await expect(card.locator(".card-play")).to_be_visible()

        # A second card arrives live: live.js fills the same card, and it loads nothing either.
        second = (await editor.post(slug, link))["entry"]
        live_card = page.locator(f"#entry-{second['id']} .link-card")
        await expect(live_card.locator(".card-play")).to_have_text(CONSENT)
        await expect(page.locator("iframe")).to_have_count(0)
        assert log.origins() == {node.url}, log.urls  # nothing but ours before the click
        assert player.seen("/embed/dQw4w9WgXcQ") == []

        await card.locator(".card-play").click()
        frame = page.frame_locator(f"#entry-{first['id']} iframe.card-player")
        await expect(frame.locator("#fake-player")).to_have_text("Den falska spelaren spelar.")
        await eventually(lambda: player.url("/embed/dQw4w9WgXcQ?autoplay=1") in log.urls)
        assert log.origins() == {node.url, player.url("")}, log.urls
        assert len(player.seen("/embed/dQw4w9WgXcQ")) == 1  # the other card still loads nothing
        await expect(live_card.locator(".card-play")).to_be_visible()

        # The iframe embed's page: embed.js draws the cards in its shadow root, and they wait for a click too.
        embed = await context.new_page()
        embed_log = RequestLog(embed)
        await embed.goto(f"{node.url}/embed/{slug}")
        embed_card = embed.locator(f"ticker-live .ticker #entry-{first['id']} .link-card")
        await expect(embed_card.locator(".card-play")).to_have_text(CONSENT)
        await expect(embed_card.locator(".card-title")).to_have_text(
            "Räddningstjänsten släcker branden i Hammarby sjöstad"
        )
        assert embed_log.origins() == {node.url}, embed_log.urls
        await embed_card.locator(".card-play").click()
        await expect(
            embed.frame_locator("ticker-live .ticker iframe.card-player").locator("#fake-player")
        ).to_be_visible()
        await context.close()


async def test_without_javascript_the_card_is_a_static_link_to_the_post(browser: Browser, sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, player, _providers):
        editor = await node.reporter()
        slug = await editor.incident()
        link = LINKS["youtube"][0]
        entry = (await editor.post(slug, link))["entry"]
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        log = RequestLog(page)
        await page.goto(f"{node.url}/i/{slug}")
        card = page.locator(f"#entry-{entry['id']} .link-card")
        await expect(card.locator("a.card-link")).to_have_attribute("href", link)
        await expect(card.locator("a.card-link")).to_have_attribute("rel", "noopener nofollow ugc")
        await expect(card.locator(".card-title")).to_be_visible()
        await expect(card.locator(".card-play")).to_be_hidden()  # it would do nothing without JavaScript
        assert log.origins() == {node.url}, log.urls
        assert player.seen("/embed/dQw4w9WgXcQ") == []
        await context.close()


async def test_the_desk_shows_cards_and_tells_the_reporter_which_link_stayed_a_plain_link(
    browser: Browser, sqlite_url: str
) -> None:
    async with card_node(sqlite_url) as (node, _player, providers):
        providers.answer("vimeo", b"<html>Sorry</html>")  # garbage
        _tool, slug = await newsroom.incident(node, "Brand i hamnen")
        page = await newsroom.at_desk(browser, node, "lisa", slug)
        await newsroom.compose(page, f"Två klipp:\n\n{LINKS['youtube'][0]}\n\n{LINKS['vimeo'][0]}")
        posted = newsroom.entry(page, "Två klipp")
        await expect(posted.locator(".link-card .card-title")).to_have_text(
            "Räddningstjänsten släcker branden i Hammarby sjöstad"
        )
        await expect(posted.locator(".link-card .card-play")).to_have_text(CONSENT)
        await expect(posted.locator(f'a[href="{LINKS["vimeo"][0]}"]')).to_have_text(LINKS["vimeo"][0])
        problem = page.locator(".desk-problem")
        await expect(problem).to_contain_text("Länken till Vimeo blev inget kort och visas som en vanlig länk")
        await expect(page.locator(".desk-entries iframe")).to_have_count(0)
        await posted.locator(".card-play").click()
        await expect(posted.frame_locator("iframe.card-player").locator("#fake-player")).to_be_visible()
        await page.context.close()
