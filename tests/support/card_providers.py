"""Stand-ins for the social and video providers (issue 15): one loopback server answers each provider's oEmbed
(or OpenGraph page) with a recorded answer from tests/fixtures/cards, in that provider's own shape; the node's
TICKER_CARD_ENDPOINTS points at it. A test may make any provider slow, down or answer garbage, and counts the
requests each endpoint saw."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from PIL import Image

from tests.support.node import Node, node_settings, running_node
from tests.support.source_server import SourceServer, source_server

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cards"

# A link of each provider's, the path its card data is asked for on the stand-in, and the recorded answer.
LINKS = {
    "youtube": ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "/youtube/oembed", "youtube.json"),
    "vimeo": ("https://vimeo.com/76979871", "/vimeo/oembed", "vimeo.json"),
    "x": ("https://x.com/polisen_sthlm/status/1790000000000000000", "/x/oembed", "x.json"),
    "instagram": ("https://www.instagram.com/p/C6zAbCdEfGh/", "/instagram/p/C6zAbCdEfGh/", "instagram.html"),
    "facebook": (
        "https://www.facebook.com/rsgbg/posts/pfbid02abc",
        "/facebook/rsgbg/posts/pfbid02abc",
        "facebook.html",
    ),
    "tiktok": ("https://www.tiktok.com/@scout2015/video/6718335390845095173", "/tiktok/oembed", "tiktok.json"),
    "bluesky": ("https://bsky.app/profile/smhi.se/post/3l6oveex3ii2l", "/bluesky/oembed", "bluesky.json"),
    "mastodon": ("https://mastodon.social/@krisinformation/113000000000000000", "/mastodon/oembed", "mastodon.json"),
}
OPENGRAPH = {"instagram", "facebook"}


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def jpeg(width: int = 480, height: int = 360) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


class Providers:
    def __init__(self, server: SourceServer) -> None:
        self.server = server
        for name, (_link, path, fixture) in LINKS.items():
            kind = "text/html; charset=utf-8" if name in OPENGRAPH else "application/json"
            server.answer(path, self.local_pictures(name, recorded(fixture)), content_type=kind)

    def local_pictures(self, name: str, answer: bytes) -> bytes:
        """``answer`` with its picture's address on the stand-in (which serves a small JPEG there): the recorded
        one is on the provider's CDN, which this machine cannot reach."""
        picture = f"/thumbs/{name}.jpg"
        self.server.answer(picture, jpeg(), content_type="image/jpeg")
        if name in OPENGRAPH:
            return re.sub(
                rb'(property="og:image" content=")[^"]+', rb"\g<1>" + self.server.url(picture).encode(), answer
            )
        data = json.loads(answer)
        if "thumbnail_url" in data:
            data["thumbnail_url"] = self.server.url(picture)
        return json.dumps(data).encode()

    def picture_asked(self, name: str) -> int:
        return len(self.server.seen(f"/thumbs/{name}.jpg"))

    def endpoints(self) -> str:
        """TICKER_CARD_ENDPOINTS for the node: every provider asked here."""
        return ",".join(
            f"{name}={self.server.url('/' + name + ('' if name in OPENGRAPH else '/oembed'))}" for name in LINKS
        )

    def asked(self, name: str) -> int:
        """How often ``name``'s card data was asked for."""
        return len(self.server.seen(LINKS[name][1]))

    def answer(self, name: str, body: bytes | None = None, **fields: object) -> None:
        """Make ``name`` answer otherwise: garbage, an error status, slowly (SourceServer's Answer fields)."""
        self.server.answer(LINKS[name][1], body, **fields)  # type: ignore[arg-type]


@asynccontextmanager
async def card_providers() -> AsyncIterator[Providers]:
    async with source_server() as server:
        yield Providers(server)


@asynccontextmanager
async def card_node(database_url: str, **settings: Any) -> AsyncIterator[tuple[Node, Providers]]:
    """A node whose card endpoints are all the stand-in's (loopback allowed), and the stand-in."""
    async with card_providers() as providers:
        base = node_settings(database_url, fetch_allow_loopback=True, card_endpoints=providers.endpoints())
        async with running_node(base.replace(**settings)) as node:
            yield node, providers
