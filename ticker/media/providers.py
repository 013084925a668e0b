"""The social and video providers whose links become cards: which URLs are theirs, where their card data is
asked for (oEmbed, or the page's OpenGraph tags where the provider has no open oEmbed), and the player a reader
may load with a click.

Every address here is a default that a setting replaces (``TICKER_CARD_ENDPOINTS``, ``TICKER_CARD_PLAYERS``,
``TICKER_CARD_MASTODON_HOSTS``): a node without internet (our tests, a newsroom behind a proxy of its own) points
them elsewhere. Standard library only: the settings check reads the overrides before a node starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ticker.config import Settings


@dataclass(frozen=True)
class Link:
    """A link that is a provider's: the provider, the URL as written, and the parts its player needs."""

    provider: Provider
    url: str
    host: str
    parts: Mapping[str, str]


@dataclass(frozen=True)
class Provider:
    name: str  # the key in settings and in stored cards
    label: str  # what readers are told ("Innehållet visas från YouTube")
    hosts: frozenset[str]  # empty: the hosts come from a setting (Mastodon)
    path: re.Pattern[str]  # matched against the path and query; its named groups are the Link's parts
    endpoint: str  # oEmbed endpoint, or (opengraph) the origin the page is read from; {host}: the link's host
    opengraph: bool  # no open oEmbed: the page's og: tags are read instead
    player_origin: str  # {host}: the link's host
    player_path: Callable[[Link], str | None]  # the player's path and query; None: no player for this link


def _youtube_player(link: Link) -> str:
    return f"/embed/{link.parts['id']}?autoplay=1"


def _facebook_player(link: Link) -> str:
    kind = "video" if re.search(r"/videos?/|/watch|/reel/", link.url) else "post"
    return f"/plugins/{kind}.php?href={quote(link.url, safe='')}"


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "youtube",
        "YouTube",
        frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"}),
        re.compile(r"^/(?:watch\?(?:.*&)?v=|shorts/|live/|embed/)?(?P<id>[A-Za-z0-9_-]{11})(?:[?&#/].*)?$"),
        "https://www.youtube.com/oembed",
        False,
        "https://www.youtube-nocookie.com",
        _youtube_player,
    ),
    Provider(
        "vimeo",
        "Vimeo",
        frozenset({"vimeo.com", "www.vimeo.com"}),
        re.compile(r"^/(?:video/)?(?P<id>\d{1,12})(?:[?#/].*)?$"),
        "https://vimeo.com/api/oembed.json",
        False,
        "https://player.vimeo.com",
        lambda link: f"/video/{link.parts['id']}?autoplay=1&dnt=1",
    ),
    Provider(
        "x",
        "X",
        frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com", "mobile.x.com"}),
        re.compile(r"^/(?P<user>\w{1,15})/status(?:es)?/(?P<id>\d{1,20})(?:[?#/].*)?$"),
        "https://publish.twitter.com/oembed",
        False,
        "https://platform.twitter.com",
        lambda link: f"/embed/Tweet.html?id={link.parts['id']}&dnt=true",
    ),
    Provider(
        "instagram",
        "Instagram",
        frozenset({"instagram.com", "www.instagram.com"}),
        re.compile(r"^/(?P<kind>p|reel|tv)/(?P<id>[A-Za-z0-9_-]{5,40})/?(?:[?#].*)?$"),
        "https://www.instagram.com",
        True,
        "https://www.instagram.com",
        lambda link: f"/{link.parts['kind']}/{link.parts['id']}/embed/",
    ),
    Provider(
        "facebook",
        "Facebook",
        frozenset({"facebook.com", "www.facebook.com", "m.facebook.com", "fb.watch"}),
        re.compile(r"^/(?P<path>[^?#]+?)/?(?:[?#].*)?$"),
        "https://www.facebook.com",
        True,
        "https://www.facebook.com",
        _facebook_player,
    ),
    Provider(
        "tiktok",
        "TikTok",
        frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com"}),
        re.compile(r"^/@(?P<user>[\w.-]{1,40})/video/(?P<id>\d{1,25})(?:[?#/].*)?$"),
        "https://www.tiktok.com/oembed",
        False,
        "https://www.tiktok.com",
        lambda link: f"/embed/v2/{link.parts['id']}",
    ),
    Provider(
        "bluesky",
        "Bluesky",
        frozenset({"bsky.app", "www.bsky.app"}),
        re.compile(r"^/profile/(?P<user>[\w.:-]{1,253})/post/(?P<id>[a-z0-9]{5,20})(?:[?#/].*)?$"),
        "https://embed.bsky.app/oembed",
        False,
        "https://embed.bsky.app",
        # The player names the post by its author's DID, which only the oEmbed answer tells (``did`` then).
        lambda link: (
            f"/embed/{link.parts['did']}/app.bsky.feed.post/{link.parts['id']}" if "did" in link.parts else None
        ),
    ),
    Provider(
        "mastodon",
        "Mastodon",
        frozenset(),  # TICKER_CARD_MASTODON_HOSTS: any server could be one, so only the listed ones are
        re.compile(r"^/@(?P<user>\w{1,64})/(?P<id>\d{1,20})/?(?:[?#].*)?$"),
        "https://{host}/api/oembed",
        False,
        "https://{host}",
        lambda link: f"/@{link.parts['user']}/{link.parts['id']}/embed",
    ),
)
BY_NAME = {p.name: p for p in PROVIDERS}


def overrides(setting: str, what: str) -> dict[str, str]:
    """``"youtube=http://127.0.0.1:9001/oembed,vimeo=…"`` as a mapping; ValueError names what is wrong."""
    found: dict[str, str] = {}
    for item in (part.strip() for part in setting.split(",")):
        if not item:
            continue
        name, sep, url = (s.strip() for s in item.partition("="))
        if not sep or name not in BY_NAME:
            known = ", ".join(BY_NAME)
            raise ValueError(f"{item[:60]!r} is not PROVIDER={what} (providers: {known})")
        parts = urlsplit(url.replace("{host}", "host.example"))
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
            raise ValueError(f"{name}: {url[:100]!r} is not an http(s) {what} without a query or user")
        found[name] = url.rstrip("/")
    return found


def mastodon_hosts(setting: str) -> frozenset[str]:
    hosts = frozenset(h.strip().lower() for h in setting.split(",") if h.strip())
    for host in hosts:
        if not re.fullmatch(r"[a-z0-9.-]{1,253}", host) or "." not in host:
            raise ValueError(f"{host[:60]!r} is not a host name, e.g. mastodon.social")
    return hosts


@dataclass(frozen=True)
class Directory:
    """The providers as this node's settings have them: which hosts are whose, and the addresses to use."""

    endpoints: Mapping[str, str]
    players: Mapping[str, str]
    mastodon: frozenset[str]

    @classmethod
    def of(cls, endpoints: str, players: str, mastodon: str) -> Directory:
        return cls(overrides(endpoints, "endpoint"), overrides(players, "player origin"), mastodon_hosts(mastodon))

    @classmethod
    def of_settings(cls, settings: Settings) -> Directory:
        return cls.of(settings.card_endpoints, settings.card_players, settings.card_mastodon_hosts)

    def match(self, url: str) -> Link | None:
        """The provider's link ``url`` is, or None (then it stays a plain link)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or parts.username or parts.port not in (None, 80, 443):
            return None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for provider in PROVIDERS:
            hosts = provider.hosts or self.mastodon
            if host in hosts and (found := provider.path.match(path)) is not None:
                return Link(provider, url, host, {k: v for k, v in found.groupdict().items() if v is not None})
        return None

    def endpoint(self, link: Link) -> str:
        """Where the card's data is asked for: the oEmbed URL with the link, or the page to read og: tags from."""
        provider = link.provider
        base = self.endpoints.get(provider.name, provider.endpoint).replace("{host}", link.host)
        if provider.opengraph:
            parts = urlsplit(link.url)
            return base + parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{base}?format=json&url={quote(link.url, safe='')}"

    def player(self, link: Link) -> str | None:
        path = link.provider.player_path(link)
        if path is None:
            return None
        return self.player_origin(link.provider, link.host) + path

    def player_origin(self, provider: Provider, host: str) -> str:
        return self.players.get(provider.name, provider.player_origin).replace("{host}", host)

    def frame_origins(self) -> list[str]:
        """Every origin a player may come from (the pages' ``frame-src``), each once, in the table's order."""
        origins: list[str] = []
        for provider in PROVIDERS:
            for host in sorted(self.mastodon) if not provider.hosts else [""]:
                parts = urlsplit(self.player_origin(provider, host))
                origin = f"{parts.scheme}://{parts.netloc}"
                if parts.hostname and origin not in origins:
                    origins.append(origin)
        return origins
