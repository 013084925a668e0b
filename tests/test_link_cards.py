"""Link cards (issue 15): a provider's link on a line of its own becomes a card made at post time, through the
guarded fetcher, from recorded answers in each provider's own shape (tests/fixtures/cards, served on loopback);
other links stay plain links; a provider that is down, slow or answers garbage leaves a plain link and a note,
and the post succeeds; a retry fetches nothing. Cards show on every surface. The browser's side (nothing loads
from another origin before the click) is tests/test_link_cards_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from tests.support.card_providers import LINKS, OPENGRAPH, card_node, card_providers
from tests.support.network import Recording
from tests.support.node import node_settings, running_node
from tests.support.services import free_port
from ticker.config import Settings
from ticker.config_check import SettingsError, check
from ticker.http.api_operations import Approved, EntryWritten
from ticker.media.cards import LinkCards
from ticker.media.providers import Directory
from ticker.net.fetch import Fetcher, FetchLimits

TITLES = {
    "youtube": "Räddningstjänsten släcker branden i Hammarby sjöstad",
    "vimeo": "Stormen drar in över Göteborg",
    "x": "Avspärrningarna vid Slussen är hävda. Trafiken släpps på igen. #polisen",
    "instagram": 'Polisen Stockholm on Instagram: "Tack till alla som hjälpte till i kväll."',
    "facebook": "Räddningstjänsten Storgöteborg",
    "tiktok": "Så såg det ut när isen bröt upp #vår",
    "bluesky": "Orange varning för kraftig vind längs Norrlandskusten i natt.",
    "mastodon": "New status by krisinformation",
}
PLAYERS = {
    "youtube": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?autoplay=1",
    "vimeo": "https://player.vimeo.com/video/76979871?autoplay=1&dnt=1",
    "x": "https://platform.twitter.com/embed/Tweet.html?id=1790000000000000000&dnt=true",
    "instagram": "https://www.instagram.com/p/C6zAbCdEfGh/embed/",
    "facebook": "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Frsgbg%2Fposts%2Fpfbid02abc",
    "tiktok": "https://www.tiktok.com/embed/v2/6718335390845095173",
    "bluesky": "https://embed.bsky.app/embed/did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l",
    "mastodon": "https://mastodon.social/@krisinformation/113000000000000000/embed",
}


async def test_each_providers_link_on_a_line_of_its_own_becomes_a_card(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        for name, (link, _path, _fixture) in LINKS.items():
            posted = await editor.post(slug, f"Se inlägget:\n{link}\nMer följer.")
            assert "card_notes" not in posted, posted
            EntryWritten.model_validate(posted)  # as the OpenAPI document describes it
            (card,) = posted["entry"]["cards"]
            assert card["url"] == link and card["provider"] == name
            assert card["title"] == TITLES[name]
            assert card["player"] == PLAYERS[name]
            assert card["author"] or name in OPENGRAPH, card  # a page's og: tags may name no author
            assert providers.asked(name) == 1
            # The link is a paragraph of its own now: that paragraph is where every surface puts the card.
            body = posted["entry"]["body"]
            assert body.startswith("<p>Se inlägget:</p><p><a href=") and body.endswith("<p>Mer följer.</p>")
        state = await editor.state(slug)
        assert all("cards" in e for e in state["entries"].values())  # what readers fold is what was posted


async def test_other_links_stay_plain_links_for_user_content(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        posted = await editor.post(slug, "Läs mer: https://example.se/brand?a=1&b=2.\nhttps://polisen.se/h/1")
        entry = posted["entry"]
        assert "cards" not in entry and "card_notes" not in posted
        assert entry["body"] == (
            '<p>Läs mer: <a href="https://example.se/brand?a=1&amp;b=2" rel="noopener nofollow ugc">'
            "https://example.se/brand?a=1&amp;b=2</a>.<br>"
            '<a href="https://polisen.se/h/1" rel="noopener nofollow ugc">https://polisen.se/h/1</a></p>'
        )
        # A provider's link inside a sentence is a plain link too: only a line of its own becomes a card.
        inline = await editor.post(slug, "Klippet https://youtu.be/dQw4w9WgXcQ visar branden.")
        assert "cards" not in inline["entry"] and 'rel="noopener nofollow ugc"' in inline["entry"]["body"]
        assert sum(providers.asked(name) for name in LINKS) == 0


BROKEN = {
    "down": {"status": 503, "body": b"Service Unavailable"},
    "not json": {"body": b"<html>Sorry</html>"},
    "not oembed": {"body": json.dumps({"error": "no such video"}).encode()},
    "no title or author": {"body": json.dumps({"type": "video", "html": ""}).encode()},
    "slow": {"delay": 3.0},
}


@pytest.mark.parametrize("failure", [*BROKEN, "closed port"])
async def test_a_provider_that_fails_leaves_a_plain_link_and_a_note_and_the_post_succeeds(
    sqlite_url: str, failure: str
) -> None:
    async with card_providers() as providers:
        endpoints = providers.endpoints()
        if failure == "closed port":  # nothing listens there: the connection is refused
            endpoints += f",youtube=http://127.0.0.1:{free_port()}/oembed"
        else:
            providers.answer("youtube", **BROKEN[failure])  # type: ignore[arg-type]
        settings = node_settings(
            sqlite_url, fetch_allow_loopback=True, card_endpoints=endpoints, card_timeout_seconds=1.0
        )
        async with running_node(settings) as node:
            code = {"down": "status", "slow": "timeout", "closed port": "unreachable"}.get(failure, "bad_answer")
            await _plain_link_and_note(await node.reporter(), code)


async def _plain_link_and_note(editor: Any, code: str) -> None:
    slug = await editor.incident()
    link = LINKS["youtube"][0]
    posted = await editor.post(slug, f"Så här såg det ut:\n\n{link}")
    entry = posted["entry"]
    assert "cards" not in entry
    assert f'<a href="{link}" rel="noopener nofollow ugc">' in entry["body"]
    (note,) = posted["card_notes"]
    assert note["url"] == link and note["provider"] == "YouTube" and note["code"] == code, note
    EntryWritten.model_validate(posted)  # as the OpenAPI document describes it
    assert "YouTube" in note["message"]
    state = await editor.state(slug)
    assert [e["id"] for e in state["entries"].values()] == [entry["id"]]  # the post itself was written


async def test_a_retry_with_the_same_key_fetches_nothing_and_makes_no_twin(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        body = {"body": LINKS["vimeo"][0]}
        path = f"/api/incidents/{slug}/entries"
        first = await editor.call("POST", path, 201, json=body, headers={"Idempotency-Key": "k-1"})
        again = await editor.call("POST", path, 201, json=body, headers={"Idempotency-Key": "k-1"})
        assert again == first and providers.asked("vimeo") == 1
        # Twins sent at once, while the provider is slow: one fetch between them, one entry.
        providers.answer("vimeo", (providers.server.answers["/vimeo/oembed"].body), delay=0.5)
        twins = await asyncio.gather(
            *(editor.call("POST", path, 201, json=body, headers={"Idempotency-Key": "k-2"}) for _ in range(2))
        )
        assert twins[0] == twins[1] and twins[0]["entry"]["cards"][0]["provider"] == "vimeo"
        assert providers.asked("vimeo") == 2
        state = await editor.state(slug)
        assert sorted(state["entries"]) == sorted({first["entry"]["id"], twins[0]["entry"]["id"]})


async def test_an_edit_makes_cards_for_new_links_and_keeps_the_others(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        entry = (await editor.post(slug, "Bilder kommer."))["entry"]
        path = f"/api/incidents/{slug}/entries/{entry['id']}"
        youtube, tiktok = LINKS["youtube"][0], LINKS["tiktok"][0]
        edited = await editor.call("PATCH", path, json={"body": f"Bilder:\n\n{youtube}"})
        assert [c["provider"] for c in edited["entry"]["cards"]] == ["youtube"]
        edited = await editor.call("PATCH", path, json={"body": f"Bilder:\n\n{youtube}\n\n{tiktok}"})
        assert [c["provider"] for c in edited["entry"]["cards"]] == ["youtube", "tiktok"]
        assert providers.asked("youtube") == 1 and providers.asked("tiktok") == 1  # the kept card is not fetched
        edited = await editor.call("PATCH", path, json={"body": "Inga bilder ändå."})
        assert "cards" not in edited["entry"]


async def test_at_most_cards_per_entry_links_become_cards(sqlite_url: str) -> None:
    async with card_node(sqlite_url, cards_per_entry=1) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        posted = await editor.post(slug, f"{LINKS['youtube'][0]}\n{LINKS['vimeo'][0]}")
        assert [c["provider"] for c in posted["entry"]["cards"]] == ["youtube"]
        assert [(n["provider"], n["code"]) for n in posted["card_notes"]] == [("Vimeo", "too_many")]
        assert providers.asked("vimeo") == 0


async def test_cards_show_on_every_surface_as_static_cards(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, _providers):
        editor = await node.reporter()
        slug = await editor.incident()
        link = LINKS["youtube"][0]
        entry = (await editor.post(slug, f"Se klippet:\n\n{link}"))["entry"]
        http = editor.http
        card = re.compile(
            r'<figure class="link-card" data-provider="youtube" data-player="[^"]+"><a class="card-link" '
            rf'href="{re.escape(link)}" rel="noopener nofollow ugc"[^>]*>.*'
            rf'<span class="card-title">{TITLES["youtube"]}</span>.*'
            r'<button type="button" class="card-play" hidden>Innehållet visas från YouTube – klicka för att visa'
            r"</button></figure>",
            re.S,
        )
        for page in (f"/i/{slug}", f"/i/{slug}/e/{entry['id']}", f"/embed/{slug}"):
            html = (await http.get(page)).text
            assert card.search(html), page
            assert "<iframe" not in html.split('<template id="entry-template">')[0], page  # nothing is framed yet
        english = (await http.get(f"/i/{slug}?lang=en")).text
        assert "The content is shown from YouTube – click to show it" in english
        embed = (await http.get(f"/api/embed/{slug}")).json()
        assert embed["entries"][0]["cards"][0]["title"] == TITLES["youtube"]
        feed = (await http.get(f"/i/{slug}/feed.atom")).text
        assert link.replace("&", "&amp;amp;") in feed or link in feed  # Atom: the body's plain link
        assert "link-card" not in feed


@pytest.mark.parametrize(
    ("endpoints", "host"),
    [
        ("youtube=http://oembed.intranet.example/oembed", "oembed.intranet.example"),
        ("", "www.youtube.com"),  # the real endpoint's name, answered with an internal address
    ],
)
@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.216.34", "192.168.1.20"], ["169.254.169.254"]])
async def test_the_card_fetch_refuses_a_name_resolving_to_an_internal_address(
    endpoints: str, host: str, addresses: list[str]
) -> None:
    network = Recording()

    async def resolve(name: str, port: int) -> list[str]:
        assert name == host
        return addresses

    fetcher = Fetcher(FetchLimits(), resolver=resolve, backend=network)
    cards = LinkCards(Directory.of(endpoints, "", ""), fetcher, timeout=5.0, most=4)
    made = await cards.make('<p><a href="https://youtu.be/dQw4w9WgXcQ">https://youtu.be/dQw4w9WgXcQ</a></p>')
    await cards.aclose()
    assert made.cards == []
    (note,) = made.notes
    assert note.code == "refused" and re.search(r"private|link-local", note.message), note
    assert network.connects == []  # refused at the resolver: no traffic was sent anywhere


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("card_endpoints", "myspace=https://example.se/oembed", "is not PROVIDER=endpoint"),
        ("card_endpoints", "youtube=ftp://example.se/oembed", "not an http(s) endpoint"),
        ("card_players", "vimeo=https://user@example.se", "not an http(s) player origin"),
        ("card_mastodon_hosts", "mastodon.social,not a host", "not a host name"),
        ("card_timeout_seconds", 31.0, "less than or equal to 30"),
        ("cards_per_entry", 21, "less than or equal to 20"),
    ],
)
def test_card_settings_are_checked(name: str, value: object, problem: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(problem)):
        check(Settings(**{name: value}))  # type: ignore[arg-type]


async def test_a_contributors_link_becomes_a_card_when_an_editor_approves_it(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        contributor = await node.reporter("kim", role="contributor")
        slug = await editor.incident()
        link = LINKS["tiktok"][0]
        path = f"/api/incidents/{slug}/entries"
        kept = await contributor.call("POST", path, 202, json={"body": f"Från läsare:\n\n{link}"})
        assert providers.asked("tiktok") == 0  # nothing is fetched for what no reader sees yet
        approve = f"/api/incidents/{slug}/submissions/{kept['submission']['id']}/approve"
        approved = await editor.call("POST", approve, json={}, headers={"Idempotency-Key": "a-1"})
        assert [c["provider"] for c in approved["entry"]["cards"]] == ["tiktok"]
        Approved.model_validate(approved)  # as the OpenAPI document describes it
        assert (
            approved["entry"]["body"]
            == f'<p>Från läsare:</p><p><a href="{link}" rel="noopener nofollow ugc">{link}</a></p>'
        )
        again = await editor.call("POST", approve, json={}, headers={"Idempotency-Key": "a-1"})
        assert again == approved and providers.asked("tiktok") == 1
