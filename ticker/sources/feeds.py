"""Any RSS 2.0 or Atom feed (a fire service's news, a municipality's announcements). Items have no place of
their own, so a place filter looks for the place in the title and summary; a type filter matches categories.

The feed is parsed by expat, which never loads external entities; a feed that declares entities of its own (the
way to a "billion laughs" blow-up) is refused before it is parsed.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from xml.parsers import expat

from ticker.sources.found import Found, Unreadable, external_id, link, moment, plain

ATOM = "{http://www.w3.org/2005/Atom}"


def _refuse_entities(body: bytes) -> None:
    def refuse(*_args: object) -> None:
        raise Unreadable("the feed declares entities of its own (refused)")

    checker = expat.ParserCreate()
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(body, True)
    except expat.ExpatError as exc:
        raise Unreadable(f"not XML: {exc}") from None


def _text(element: ET.Element | None) -> str:
    return "".join(element.itertext()) if element is not None else ""


def _rss_item(item: ET.Element) -> Found:
    title, url = plain(_text(item.find("title")), 300), link(_text(item.find("link")))
    published = _text(item.find("pubDate"))
    key = _text(item.find("guid")).strip() or url or hashlib.sha256(f"{title}\n{published}".encode()).hexdigest()
    return Found(
        external_id=external_id(key),
        title=title,
        summary=plain(_text(item.find("description")), 2000),
        url=url,
        type=plain(_text(item.find("category")), 120),
        published_at=moment(published),
    )


def _atom_entry(entry: ET.Element) -> Found:
    links = entry.findall(f"{ATOM}link")
    alternate = [e for e in links if e.get("rel", "alternate") == "alternate"] or links
    title = plain(_text(entry.find(f"{ATOM}title")), 300)
    url = link(alternate[0].get("href")) if alternate else ""
    updated = _text(entry.find(f"{ATOM}published")) or _text(entry.find(f"{ATOM}updated"))
    key = _text(entry.find(f"{ATOM}id")).strip() or url or hashlib.sha256(f"{title}\n{updated}".encode()).hexdigest()
    category = entry.find(f"{ATOM}category")
    summary = entry.find(f"{ATOM}summary")
    return Found(
        external_id=external_id(key),
        title=title,
        summary=plain(_text(summary if summary is not None else entry.find(f"{ATOM}content")), 2000),
        url=url,
        type=plain(category.get("term") if category is not None else "", 120),
        published_at=moment(updated),
    )


def parse(body: bytes, url: str) -> list[Found]:
    _refuse_entities(body)
    root = ET.fromstring(body)
    if root.tag == "rss" and root.find("channel") is not None:
        return [_rss_item(item) for item in root.iter("item")]
    if root.tag == f"{ATOM}feed":
        return [_atom_entry(entry) for entry in root.iter(f"{ATOM}entry")]
    raise Unreadable(f"not an RSS or Atom feed (its root is {root.tag[:80]!r})")
