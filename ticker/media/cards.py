"""Link cards: a provider's link on a line of its own in an entry becomes a static card (title, author, a
thumbnail served from our origin), made once, when the entry is posted or its body edited.

When: before the write's transaction, bounded by ``card_timeout_seconds`` for all of an entry's links together
(their thumbnails included). The entry is then written once, with its cards, in one event: no second event, no
window in which readers see a plain link turn into a card, and the 201 can tell the reporter which link stayed a
plain link and why. A retry with the same Idempotency-Key is answered from the stored result before any card is
fetched (ticker.http.api); a twin sent while the first is still fetching on the same node waits for the same
fetch (``_fetching``), and if it reaches the store second it gets the first one's answer there (G2).

Nothing here makes the post fail: a provider that is away, slow, refused by the SSRF guard or answering garbage
leaves a plain link and a ``CardNote`` (code, provider, message) in the answer.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Protocol

from ticker.errors import Refused
from ticker.media.card_lines import card_links, split_out
from ticker.media.providers import Directory, Link
from ticker.net.fetch import Fetcher, FetchError
from ticker.textrules import Kind, problem

TITLE_CHARS = 300
AUTHOR_CHARS = 120
OEMBED_TYPES = {"video", "rich", "photo", "link"}


class Thumbnails(Protocol):
    """The photo pipeline as cards use it (ticker.media.photos.Photos): the provider's image in, a thumbnail
    stripped of everything but its pixels and served from our origin out: ``{"url", "width", "height"}``. A
    file it will not keep raises Refused, as an upload's would."""

    async def thumbnail(self, data: bytes) -> dict[str, Any]: ...


class CardProblem(Exception):
    """A provider's answer that makes no card; ``code`` for the desk, the message for the reporter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CardNote:
    url: str
    provider: str  # the label readers know it by ("YouTube")
    code: str  # timeout, refused, unreachable, status, too_large, bad_answer, too_many, thumbnail
    message: str

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "provider": self.provider, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Made:
    """What an entry's body gives: the body (card links each a paragraph of their own), its cards, the notes."""

    body: str
    cards: list[dict[str, Any]]
    notes: list[CardNote]


def _text(value: Any, most: int) -> str:
    """A provider's string as we keep it: plain text (no markup, no control characters), at most ``most``."""
    if not isinstance(value, str):
        return ""
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", value)).split())
    if problem(text, Kind.NAME) is not None:
        text = re.sub(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "", text)
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


class _OpenGraph(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        found = dict(attrs)
        name = (found.get("property") or found.get("name") or "").lower()
        if name.startswith(("og:", "article:")) and found.get("content") and name not in self.tags:
            self.tags[name] = found["content"] or ""


def read_oembed(body: bytes) -> dict[str, Any]:
    """An oEmbed answer's fields we use; CardProblem("bad_answer") when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise CardProblem("bad_answer", "the answer is not JSON") from None
    if not isinstance(data, dict) or data.get("type") not in OEMBED_TYPES:
        raise CardProblem("bad_answer", "the answer is not an oEmbed object (no type video, rich, photo or link)")
    # X and Bluesky give no title: the post's own text is the first paragraph of their html, read as text only.
    markup = data["html"] if isinstance(data.get("html"), str) else ""
    first = re.search(r"<p\b[^>]*>(.*?)</p>", markup, re.S)
    title = _text(data.get("title"), TITLE_CHARS) or _text(first.group(1) if first else markup, TITLE_CHARS)
    author = _text(data.get("author_name"), AUTHOR_CHARS)
    if not title and not author:
        raise CardProblem("bad_answer", "the answer has neither a title nor an author")
    thumbnail = data.get("thumbnail_url")
    at_uri = re.search(r"at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/app\.bsky\.feed\.post/", markup)
    return {
        "title": title,
        "author": author,
        "thumbnail": thumbnail if isinstance(thumbnail, str) else None,
        "did": at_uri.group(1) if at_uri else None,
    }


def read_opengraph(body: bytes) -> dict[str, Any]:
    """A page's og: tags as a card's fields; CardProblem("bad_answer") when it has none to show."""
    parser = _OpenGraph()
    try:
        parser.feed(body.decode("utf-8", "replace"))
        parser.close()
    except AssertionError:  # html.parser on markup it cannot follow
        raise CardProblem("bad_answer", "the page could not be read") from None
    tags = parser.tags
    title = _text(tags.get("og:title") or tags.get("og:description"), TITLE_CHARS)
    if not title:
        raise CardProblem("bad_answer", "the page has no og:title")
    return {
        "title": title,
        "author": _text(tags.get("article:author") or tags.get("og:site_name"), AUTHOR_CHARS),
        "thumbnail": tags.get("og:image"),
        "did": None,
    }


def _why(error: FetchError) -> tuple[str, str]:
    code = {"dns": "unreachable", "connect": "unreachable", "bad_url": "refused", "redirects": "status"}
    return code.get(error.code, error.code), error.message


@dataclass
class _Shared:
    task: asyncio.Future[tuple[dict[str, Any], str | None]]
    waiting: int = 0


class LinkCards:
    """Makes an entry's cards through the node's guarded fetcher; one per node (``aclose`` at shutdown)."""

    def __init__(
        self,
        directory: Directory,
        fetcher: Fetcher,
        *,
        timeout: float,
        most: int,
        thumbnails: Thumbnails | None = None,
    ) -> None:
        self.directory = directory
        self.fetcher = fetcher
        self.timeout = timeout
        self.most = most
        self.thumbnails = thumbnails
        self._fetching: dict[str, _Shared] = {}  # a URL's fetch, shared by the twins that want it at once
        self.fetches = 0  # card fetches started (a test counts them: a retry must not fetch again)

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    def wanted(self, body: str) -> list[Link]:
        """The provider links on lines of their own in a sanitised body, each once, in order."""
        links: list[Link] = []
        for url in card_links(body):
            link = self.directory.match(url)
            if link is not None and all(seen.url != url for seen in links):
                links.append(link)
        return links

    async def make(self, body: str, keep: Sequence[Mapping[str, Any]] = ()) -> Made:
        """The cards for ``body``: those in ``keep`` (an edited entry's) reused by URL, the others fetched."""
        links = self.wanted(body)
        if not links:
            return Made(body, [], [])
        kept = {card["url"]: dict(card) for card in keep}
        notes = [
            CardNote(link.url, link.provider.label, "too_many", f"only {self.most} links of an entry become cards")
            for link in links[self.most :]
        ]
        links = links[: self.most]
        jobs = {link.url: asyncio.ensure_future(self._card(link)) for link in links if link.url not in kept}
        if jobs:
            await asyncio.wait(jobs.values(), timeout=self.timeout)
        cards: list[dict[str, Any]] = []
        for link in links:
            if link.url in kept:
                cards.append(kept[link.url])
                continue
            job = jobs[link.url]
            if not job.done():
                job.cancel()
                message = f"{link.provider.label} did not answer within {self.timeout:g} s"
                notes.append(CardNote(link.url, link.provider.label, "timeout", message))
                continue
            try:
                card, no_picture = job.result()
            except CardProblem as problem_:
                notes.append(CardNote(link.url, link.provider.label, problem_.code, problem_.message))
                continue
            if no_picture is not None:
                notes.append(
                    CardNote(link.url, link.provider.label, "thumbnail", f"the card has no picture: {no_picture}")
                )
            cards.append(card)
        made = [card["url"] for card in cards]
        return Made(split_out(body, made) if made else body, cards, notes)

    async def _card(self, link: Link) -> tuple[dict[str, Any], str | None]:
        """One link's card, shared by every caller asking for the same URL at once."""
        shared = self._fetching.get(link.url)
        if shared is None:
            shared = self._fetching[link.url] = _Shared(asyncio.ensure_future(self._fetch(link)))
            shared.task.add_done_callback(lambda _done: self._fetching.pop(link.url, None))
        shared.waiting += 1
        try:
            card, no_picture = await asyncio.shield(shared.task)
            return dict(card), no_picture
        finally:
            shared.waiting -= 1
            if not shared.waiting and not shared.task.done():
                shared.task.cancel()  # every caller gave up waiting (their time ran out): so does the fetch

    async def _fetch(self, link: Link) -> tuple[dict[str, Any], str | None]:
        """The link's card, and why it has no picture when its provider named one that we could not keep."""
        self.fetches += 1
        label = link.provider.label
        try:
            fetched = await self.fetcher.get(
                self.directory.endpoint(link),
                accept="text/html" if link.provider.opengraph else "application/json",
            )
        except FetchError as error:
            code, why = _why(error)
            raise CardProblem(code, f"{label} could not be asked for a card ({why})") from None
        try:
            data = (read_opengraph if link.provider.opengraph else read_oembed)(fetched.body)
        except CardProblem as bad:
            raise CardProblem(bad.code, f"{label} answered something that is not a card: {bad.message}") from None
        parts = {**link.parts, **({"did": data["did"]} if data["did"] else {})}
        card: dict[str, Any] = {
            "url": link.url,
            "provider": link.provider.name,
            "provider_name": label,
            "title": data["title"],
            "author": data["author"],
            "thumbnail": None,
            "player": self.directory.player(Link(link.provider, link.url, link.host, parts)),
        }
        if data["thumbnail"] and self.thumbnails is not None:
            try:
                card["thumbnail"] = await self._thumbnail(data["thumbnail"])
            except (FetchError, Refused) as error:
                return card, str(error.message)[:300]
        return card, None

    async def _thumbnail(self, url: str) -> dict[str, Any]:
        assert self.thumbnails is not None
        fetched = await self.fetcher.get(url, accept="image/*")
        stored = await self.thumbnails.thumbnail(fetched.body)
        return {"url": stored["url"], "width": stored["width"], "height": stored["height"]}
