"""schema.org ``LiveBlogPosting`` for an incident page, so search engines show it as a live story."""

from __future__ import annotations

from typing import Any

from ticker import i18n
from ticker.http.photo_markup import image_object
from ticker.sanitize import text_of

LOGO = "/static/logo.png"


def publisher(base_url: str, site_name: str) -> dict[str, Any]:
    return {
        "@type": "Organization",
        "name": site_name,
        "logo": {"@type": "ImageObject", "url": base_url + LOGO, "width": 512, "height": 512},
    }


def update(entry: dict[str, Any], *, base_url: str, lang: str) -> dict[str, Any]:
    """One ``liveBlogUpdate`` item: a standing entry as a BlogPosting."""
    found: dict[str, Any] = {
        "@type": "BlogPosting",
        "url": f"{base_url}/i/{entry['incident']}/e/{entry['id']}",
        "headline": i18n.headline(entry, lang),
        "datePublished": entry["created_at"],
        "articleBody": text_of(entry["body"]),
        "author": {"@type": "Person", "name": entry["author"]},
    }
    if entry["edited_at"]:
        found["dateModified"] = entry["edited_at"]
    if entry.get("photos"):
        found["image"] = [image_object(p, base_url) for p in entry["photos"]]
    return found


def live_blog(
    incident: dict[str, Any], entries: list[dict[str, Any]], *, url: str, base_url: str, site_name: str, lang: str
) -> dict[str, Any]:
    """The incident and the standing entries shown on its page (newest first)."""
    org = publisher(base_url, site_name)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": url,
        "url": url,
        "mainEntityOfPage": url,
        "headline": incident["title"],
        "description": incident["summary"] or incident["title"],
        "inLanguage": lang,
        "datePublished": incident["created_at"],
        "dateModified": incident["updated_at"],
        "coverageStartTime": incident["created_at"],
        "publisher": org,
        "author": org,
        "liveBlogUpdate": [update(e, base_url=base_url, lang=lang) for e in entries if not e["retracted"]],
    }
    if incident["closed_at"]:
        data["coverageEndTime"] = incident["closed_at"]
    if incident["location"]:
        data["contentLocation"] = {"@type": "Place", "name": incident["location"]}
    if incident.get("photo"):
        data["image"] = [image_object(incident["photo"], base_url)]
    elif incident["photo_url"]:  # hot-linked before photos were uploaded
        data["image"] = [incident["photo_url"]]
    return data
