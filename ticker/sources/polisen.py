"""The Swedish Police's open events API (``https://polisen.se/api/events``): a JSON list of events, each with
``id``, ``datetime`` ("2024-05-07 22:37:12 +02:00"), ``name`` ("7 maj 22.37, Trafikbrott, Södertälje"),
``summary``, ``url`` (a path on polisen.se), ``type`` and ``location`` (``name`` and ``gps``, "lat,lng").

The police change an event after they first publish it (a better summary, a corrected type): the same id with
new content, which the store marks as changed. The API itself filters by ``locationname`` and ``type`` in the
query string; the source's own filters do the same after fetching, so either way works.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ticker.sources.found import Found, Unreadable, external_id, json_body, link, mapping, moment, plain

# "7 maj 22.37, " before the type and place: the panel shows the time on its own.
_WHEN_PREFIX = re.compile(r"^\d{1,2} \w+ \d{1,2}[.:]\d\d,\s*")


def _gps(value: Any) -> tuple[float | None, float | None]:
    try:
        lat, lng = (float(part) for part in str(value).split(","))
    except ValueError:
        return None, None
    return (lat, lng) if -90 <= lat <= 90 and -180 <= lng <= 180 else (None, None)


def parse(body: bytes, url: str) -> list[Found]:
    events = json_body(body)
    if not isinstance(events, list):
        raise Unreadable("expected a JSON list of events")
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    found = []
    for event in events:
        if not isinstance(event, dict):
            raise Unreadable("an event is not a JSON object")
        location = mapping(event.get("location"))
        lat, lng = _gps(location.get("gps"))
        place = plain(location.get("name"), 200)
        found.append(
            Found(
                external_id=external_id(event.get("id", "")),
                title=_WHEN_PREFIX.sub("", plain(event.get("name"), 300)) or plain(event.get("type"), 300),
                summary=plain(event.get("summary"), 2000),
                url=link(event.get("url"), base),
                type=plain(event.get("type"), 120),
                place=place,
                lat=lat,
                lng=lng,
                published_at=moment(event.get("datetime")),
            )
        )
    return found
