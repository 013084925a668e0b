"""Languages: Swedish by default, English second. Dates and numbers are formatted by Babel."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from starlette.requests import Request

TIMEZONE = ZoneInfo("Europe/Stockholm")
LANGUAGES = ("sv", "en")

STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "live": "LIVE",
        "closed": "Avslutad",
        "published": "Publicerad",
        "updated": "Senast uppdaterad",
        "update": "Uppdatering",
        "edited": "Uppdaterad",
        "retracted": "Inlägget har dragits tillbaka.",
        "key_events": "Viktigaste händelserna",
        "pinned": "Fäst",
        "no_entries": "Inga uppdateringar ännu.",
        "no_js": "Sidan uppdateras inte automatiskt utan JavaScript. Ladda om sidan för att se nya uppdateringar.",
        "status_live": "Live",
        "status_connecting": "Ansluter…",
        "status_reconnecting": "Återansluter…",
        "status_offline": "Offline",
        "new_updates": "nya uppdateringar",
        "new_update": "ny uppdatering",
        "by": "Av",
        "permalink": "Länk till inlägget",
        "not_found": "Händelsen finns inte.",
        "language": "In English",
    },
    "en": {
        "live": "LIVE",
        "closed": "Closed",
        "published": "Published",
        "updated": "Last updated",
        "update": "Update",
        "edited": "Updated",
        "retracted": "This update has been withdrawn.",
        "key_events": "Key events",
        "pinned": "Pinned",
        "no_entries": "No updates yet.",
        "no_js": "This page does not update by itself without JavaScript. Reload it to see new updates.",
        "status_live": "Live",
        "status_connecting": "Connecting…",
        "status_reconnecting": "Reconnecting…",
        "status_offline": "Offline",
        "new_updates": "new updates",
        "new_update": "new update",
        "by": "By",
        "permalink": "Link to this update",
        "not_found": "No such incident.",
        "language": "På svenska",
    },
}


def language(request: Request) -> str:
    """``?lang=`` first, then Accept-Language, then Swedish."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "sv"


def when(moment: datetime, lang: str) -> str:
    """``7 maj 2024 22:37`` in Europe/Stockholm."""
    return str(format_datetime(moment, "d MMMM y HH:mm", tzinfo=TIMEZONE, locale=lang))


def clock(moment: datetime, lang: str) -> str:
    return str(format_datetime(moment, "HH:mm", tzinfo=TIMEZONE, locale=lang))


def number(value: int, lang: str) -> str:
    return str(format_decimal(value, locale=lang))
