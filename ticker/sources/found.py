"""What a source's answer holds, in one shape for every kind: ``Found`` items, the filters that pick the desk's
few, and the small helpers each kind's parser shares (plain text, bounded lengths, times)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ticker.i18n import TIMEZONE
from ticker.sanitize import text_of


class Unreadable(Exception):
    """The answer is not in the format its kind promises (not JSON, not a feed, the wrong shape)."""


@dataclass(frozen=True)
class Found:
    """One item as a source gave it, its text already plain and bounded."""

    external_id: str  # the source's own id: an item is stored once per source and id
    title: str
    summary: str = ""
    url: str = ""
    type: str = ""
    place: str = ""
    lat: float | None = None
    lng: float | None = None
    published_at: datetime | None = None
    vma: bool = False
    areas: tuple[str, ...] = field(default=(), compare=False)  # every place it names, for the filters

    def fingerprint(self) -> str:
        """Of what the desk shows: the source changed the item when this changes."""
        shown = [self.title, self.summary, self.url, self.type, self.place, self.lat, self.lng, self.vma]
        shown.append(self.published_at.isoformat() if self.published_at else None)
        return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def _names(wanted: str, text: str) -> bool:
    """Whether ``text`` names ``wanted``: the same words, or a word starting with them ("Stockholm" names
    "Stockholms län"; "Trafikolycka" names "Trafikolycka, personskada"; "Ed" does not name "Sundbyberg")."""
    return re.search(r"(?<!\w)" + re.escape(_folded(wanted)), _folded(text)) is not None


@dataclass(frozen=True)
class Filters:
    """Which items the desk wants from a source: about one of ``places`` and of one of ``types`` (an empty
    list lets everything through). An item without a place of its own (a feed entry) is matched on its text."""

    places: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def keeps(self, found: Found) -> bool:
        if self.types and not any(_names(t, found.type) for t in self.types):
            return False
        if not self.places:
            return True
        where = [*found.areas, found.place] if (found.areas or found.place) else [found.title, found.summary]
        return any(_names(p, text) for p in self.places for text in where if text)


# Helpers for the parsers.


def plain(value: Any, most: int) -> str:
    """A field as plain text (markup and entities gone, whitespace folded), at most ``most`` characters."""
    if value is None or isinstance(value, dict | list):
        return ""
    text = str(value)
    if "<" in text or "&" in text:
        text = text_of(text)
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def link(value: Any, base: str = "") -> str:
    """An http(s) link (made absolute against ``base``), or "" for anything else."""
    text = str(value or "").strip()
    if text.startswith("/") and not text.startswith("//") and base:
        text = base.rstrip("/") + text
    return text if re.match(r"^https?://[^\s]+$", text) and len(text) <= 500 else ""


def external_id(value: Any) -> str:
    """The source's id as our key: itself when short enough, else its digest (still one per item)."""
    text = str(value).strip()
    if not text:
        raise Unreadable("an item has no id")
    return text if len(text) <= 200 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_ISO = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d{1,2}):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?\s*(Z|[+-]\d\d:?\d\d)?$")


def moment(value: Any) -> datetime | None:
    """A time from ISO 8601 ("2024-05-07T22:37:00+02:00", the police's "2024-05-07 22:37:00 +02:00") or RFC 822
    (RSS); one without a zone is Swedish time. None when there is none or it cannot be read."""
    text = str(value or "").strip()
    if not text:
        return None
    parsed: datetime | None = None
    iso = _ISO.match(text)
    try:
        if iso is not None:
            date, hour, minute, second, zone = iso.groups()
            parsed = datetime.fromisoformat(f"{date}T{int(hour):02d}:{minute}:{second or '00'}{zone or ''}")
        else:
            parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=TIMEZONE)
    return parsed.astimezone(UTC)


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a missing or malformed part of an item)."""
    return value if isinstance(value, dict) else {}


def listing(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def json_body(body: bytes) -> Any:
    """The answer as JSON (UTF-8, a byte-order mark allowed), or Unreadable."""
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(f"not JSON: {exc}") from None
