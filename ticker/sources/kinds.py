"""The kinds of source: how each one's answer is read, and what the desk calls it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ticker.sources import feeds, krisinformation, polisen, vma
from ticker.sources.found import Found

JSON = "application/json"
FEEDS = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # who the desk cites ("Enligt Polisen: …"); empty: the source's own name (a feed's publisher)
    title: str  # what the desk's form calls this kind
    parse: Callable[[bytes, str], list[Found]]
    accept: str
    example: str  # the public address, for the form's hint
    places_hint: str  # what a place filter matches, for the form


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "polisen",
            "Polisen",
            "Polisens händelser",
            polisen.parse,
            JSON,
            "https://polisen.se/api/events",
            "orter (location.name), t.ex. Södertälje",
        ),
        Kind(
            "krisinformation",
            "Krisinformation",
            "Krisinformation (nyheter eller VMA)",
            krisinformation.parse,
            JSON,
            "https://api.krisinformation.se/v3/vmas",
            "län eller kommuner, t.ex. Stockholms län",
        ),
        Kind(
            "sr_vma",
            "Sveriges Radio",
            "Sveriges Radios VMA",
            vma.parse,
            JSON,
            "https://vmaapi.sr.se/api/v2/alerts",
            "områden eller kommunkoder, t.ex. Stockholms län eller 0181",
        ),
        Kind("feed", "", "RSS- eller Atom-flöde", feeds.parse, FEEDS, "https://…/rss.xml", "ord i rubrik och text"),
    )
}


def cited(kind: str, source_name: str) -> str:
    """Who the first entry of a ticker started from an item names as its source."""
    found = KINDS.get(kind)
    return found.label if found is not None and found.label else source_name
