"""A link card's picture (issue 15): the provider's thumbnail goes through the photo pipeline (ticker.media.photos:
its pixels only, re-encoded) and is served from our origin, immutable; a picture that cannot be fetched or kept
leaves the card without one and a note. The providers' stand-in serves each recorded answer's picture on loopback."""

from __future__ import annotations

import json

from tests.support.card_providers import LINKS, card_node


async def test_every_named_picture_is_kept_on_our_origin(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        for name, (link, _path, _fixture) in LINKS.items():
            card = (await editor.post(slug, link))["entry"]["cards"][0]
            if providers.picture_asked(name):
                assert card["thumbnail"]["url"].startswith("/media/"), (name, card)
            else:  # X, Bluesky and Mastodon name no picture
                assert name in ("x", "bluesky", "mastodon") and card["thumbnail"] is None


async def test_the_thumbnail_goes_through_the_photo_pipeline_and_is_served_from_our_origin(sqlite_url: str) -> None:
    async with card_node(sqlite_url) as (node, providers):
        editor = await node.reporter()
        slug = await editor.incident()
        posted = await editor.post(slug, LINKS["youtube"][0])
        thumbnail = posted["entry"]["cards"][0]["thumbnail"]
        assert thumbnail["url"].startswith("/media/") and (thumbnail["width"], thumbnail["height"]) == (480, 360)
        served = await editor.http.get(thumbnail["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert "immutable" in served.headers["cache-control"]
        page = (await editor.http.get(f"/i/{slug}")).text
        assert f'<img class="card-thumb" src="{thumbnail["url"]}" alt="" width="480" height="360"' in page
        assert providers.picture_asked("youtube") == 1

        # A picture the provider names but we cannot get (or keep): the card, without it, and a note.
        answer = json.loads(providers.server.answers["/youtube/oembed"].body)
        answer["thumbnail_url"] = providers.server.url("/vi/gone.jpg")
        providers.answer("youtube", json.dumps(answer).encode(), content_type="application/json")
        posted = await editor.post(slug, "https://youtu.be/dQw4w9WgXcQ?t=5")
        assert posted["entry"]["cards"][0]["thumbnail"] is None
        (note,) = posted["card_notes"]
        assert note["code"] == "thumbnail" and "HTTP 404" in note["message"], note
