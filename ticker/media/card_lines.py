"""Where a card goes in an entry's body: a link on a line of its own.

Bodies are sanitised by ticker.sanitize (nh3), whose output is regular: ``<p>`` paragraphs, ``<br>`` line breaks,
``<a href="…" rel="…">``. A link is on a line of its own when nothing but white space stands between it and the
start of its paragraph or a ``<br>``, and between it and the paragraph's end or a ``<br>``. When a card is made,
its link becomes a paragraph of its own (``split_out``), so every surface — the server's templates, live.js, the
desk — finds a card's place by one rule: the ``<p>`` that holds only that link.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from ticker.sanitize import clean_html

_ANCHOR = r'<a href="(?P<href>[^"]*)"[^>]*>(?:(?!</a>).)*</a>'
_ON_A_LINE = re.compile(rf"(?P<before><p>|<br>)\s*(?P<a>{_ANCHOR})\s*(?P<after></p>|<br>)", re.S)
_PARAGRAPH = re.compile(rf"<p>\s*(?P<a>{_ANCHOR})\s*</p>", re.S)


def card_links(body: str) -> list[str]:
    """The URLs of links on lines of their own, in order (repeats included)."""
    found: list[str] = []
    at = 0
    while (match := _ON_A_LINE.search(body, at)) is not None:
        found.append(html.unescape(match["href"]))
        at = match.start("after")  # the <br> after one link may be the one before the next
    return found


def split_out(body: str, urls: Iterable[str]) -> str:
    """``body`` with each link to one of ``urls`` that is on a line of its own made a paragraph of its own."""
    wanted = set(urls)
    at = 0
    while (match := _ON_A_LINE.search(body, at)) is not None:
        if html.unescape(match["href"]) not in wanted or (match["before"], match["after"]) == ("<p>", "</p>"):
            at = match.start("after")
            continue
        opening = "<p>" if match["before"] == "<p>" else "</p><p>"
        closing = "</p>" if match["after"] == "</p>" else "</p><p>"
        replacement = f"{opening}{match['a']}{closing}"
        body = body[: match.start()] + replacement + body[match.end() :]
        at = match.start() + len(replacement) - (3 if closing.endswith("<p>") else 0)
    return clean_html(  # mends the nesting of a split inside <strong> or <em>
        re.sub(r"<p>\s*</p>", "", body)
    )


def with_cards(body: str, cards: Sequence[Mapping[str, Any]], render: Callable[[Mapping[str, Any]], str]) -> Markup:
    """``body`` (sanitised HTML) with each card's paragraph replaced by ``render(card)``."""
    if not cards:
        return Markup(body)  # sanitised on the way in (ticker.sanitize)
    by_url = {card["url"]: card for card in cards}

    def card_for(match: re.Match[str]) -> str:
        card = by_url.get(html.unescape(match["href"]))
        return render(card) if card is not None else match[0]

    return Markup(_PARAGRAPH.sub(card_for, body))  # a sanitised body; cards from an autoescaped template
