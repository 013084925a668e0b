"""Krisinformation's open API, version 3 (``https://api.krisinformation.se/v3/news`` and ``/v3/vmas``): a JSON
list of messages from the authorities, each with ``Identifier``, ``Headline``, ``Preamble``, ``BodyText``,
``PushMessage``, ``Published``, ``Updated``, ``Web`` and ``Area`` (a list of ``{Type, Description}``, such as
``{"Type": "County", "Description": "Stockholms län"}``).

``/vmas`` holds the alerts to the public (VMA), which the desk highlights; ``/news`` the news. The API filters by
county in its query string (``?counties=01``); the source's place filter matches the areas' descriptions.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ticker.sources.found import Found, Unreadable, external_id, json_body, link, listing, moment, plain


def parse(body: bytes, url: str) -> list[Found]:
    messages = json_body(body)
    if not isinstance(messages, list):
        raise Unreadable("expected a JSON list of messages")
    vma = urlsplit(url).path.rstrip("/").lower().endswith("/vmas")
    found = []
    for message in messages:
        if not isinstance(message, dict):
            raise Unreadable("a message is not a JSON object")
        areas = [a for a in listing(message.get("Area")) if isinstance(a, dict)]
        names = tuple(n for n in (plain(a.get("Description"), 200) for a in areas) if n)
        summary = message.get("Preamble") or message.get("PushMessage") or message.get("BodyText")
        found.append(
            Found(
                external_id=external_id(message.get("Identifier", "")),
                title=plain(message.get("Headline"), 300) or plain(message.get("PushMessage"), 300),
                summary=plain(summary, 2000),
                url=link(message.get("Web")),
                type="VMA" if vma else "Nyhet",
                place=plain(", ".join(names), 200),
                published_at=moment(message.get("Published")),
                vma=vma,
                areas=names,
            )
        )
    return found
