"""Photos where a page is read outside our own pages: the Atom feed's HTML, schema.org's ImageObject (JSON-LD),
the file oEmbed names as a thumbnail. Every URL absolute (``base``: TICKER_PUBLIC_URL).

Our pages build photos with web/templates/_photo.html, and live entries with web/static/photos.js.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any


def photo_html(photo: Mapping[str, Any], base: str, credit_label: str) -> str:
    """One photo as a feed reader shows it: its JPEG (src and srcset), size, alt text, caption and credit."""
    jpegs = [f for f in photo["files"] if f["type"] == "image/jpeg"]
    srcset = ", ".join(f"{base}{f['url']} {f['width']}w" for f in jpegs)
    caption = f"{escape(photo['caption'])} " if photo.get("caption") else ""
    return (
        f'<figure><img src="{escape(base + photo["src"])}" srcset="{escape(srcset)}" width="{int(photo["width"])}"'
        f' height="{int(photo["height"])}" alt="{escape(photo["alt"])}"><figcaption>{caption}'
        f"{escape(credit_label)} {escape(photo['credit'])}</figcaption></figure>"
    )


def src_file(photo: Mapping[str, Any]) -> Mapping[str, Any]:
    """The file a photo's ``src`` names (its JPEG of about 1024 pixels), with its own width and height."""
    return next(f for f in photo["files"] if f["url"] == photo["src"])


def image_object(photo: Mapping[str, Any], base: str) -> dict[str, Any]:
    """schema.org ImageObject: what a search engine shows of a photo, with its credit."""
    src = src_file(photo)
    found: dict[str, Any] = {
        "@type": "ImageObject",
        "url": base + src["url"],
        "contentUrl": base + src["url"],
        "width": src["width"],
        "height": src["height"],
        "description": photo["alt"],
        "creditText": photo["credit"],
    }
    if photo.get("caption"):
        found["caption"] = photo["caption"]
    return found
