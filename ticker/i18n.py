"""Languages: Swedish by default, English second. Dates and numbers are formatted by Babel.

Strings with ``{n}`` (or another name in braces) are templates filled by the server and by reader.js alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from starlette.requests import Request

from ticker.sanitize import text_of

TIMEZONE = ZoneInfo("Europe/Stockholm")
LANGUAGES = ("sv", "en")
DEFAULT = "sv"
HEADLINE_CHARS = 90

STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "live": "LIVE",
        "closed": "Avslutad",
        "published": "Publicerad",
        "updated": "Senast uppdaterad",
        "update_label": "Uppdatering",
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
        "new_updates": "{n} nya uppdateringar",
        "new_update": "1 ny uppdatering",
        "announce": "Ny uppdatering {label}: {text}",
        "announce_retracted": "Uppdateringen {label} har dragits tillbaka.",
        "announce_corrected": "Uppdateringen {label} har dragits tillbaka: {text}",
        "by": "Av",
        "photo": "Foto:",
        "photo_alt": "Bild till händelsen: {title}",
        "card_consent": "Innehållet visas från {provider} – klicka för att visa",
        "viewers": "{n} följer just nu",
        "more": "Visa fler",
        "loading": "Hämtar…",
        "load_failed": "Kunde inte hämta fler uppdateringar. Försök igen.",
        "latest": "Till de senaste uppdateringarna",
        "follow": "Följ händelsen live",
        "push_follow": "Bevaka",
        "push_unfollow": "Sluta bevaka",
        "push_hint": "Få en notis vid viktiga händelser och när händelsen avslutas – utan konto.",
        "push_on": "Du bevakar händelsen: du får en notis vid viktiga händelser och när den avslutas.",
        "push_off": "Du bevakar inte längre händelsen.",
        "push_denied": "Notiser är avstängda för den här webbplatsen. Slå på dem i webbläsarens inställningar.",
        "push_unsupported": "Den här webbläsaren kan inte ta emot notiser.",
        "push_failed": "Det gick inte att starta bevakningen. Försök igen.",
        "push_embed": "Bevaka händelsen",
        "share": "Dela via",
        "email": "E-post",
        "copy_link": "Kopiera länk",
        "copied": "Länken är kopierad",
        "feed": "Atom-flöde",
        "view_nav": "Visa",
        "view_all": "Alla uppdateringar",
        "view_key": "Bara viktigaste",
        "order_newest": "Nyast först",
        "order_oldest": "Äldst först",
        "no_key_entries": "Inga viktiga händelser ännu.",
        "ad_label": "Annons",
        "support_title": "Stöd vår lokala journalistik",
        "support_text": "Stöd vår lokala journalistik med en Swish till {number}.",
        "support_qr_alt": "QR-kod för Swish till {number}",
        "tip_title": "Tipsa redaktionen eller fråga reportern",
        "tip_intro": "Har du sett något, eller undrar du något? Du behöver inget konto.",
        "tip_kind": "Jag vill",
        "tip_kind_tip": "tipsa redaktionen",
        "tip_kind_question": "fråga reportern",
        "tip_text": "Ditt tips eller din fråga",
        "tip_photo": "Bild (valfritt)",
        "tip_name": "Ditt namn (valfritt)",
        "tip_publish_name": "Ni får skriva ut mitt namn om ni svarar på frågan",
        "tip_contact": "Telefon eller e-post om vi får kontakta dig (valfritt; publiceras aldrig)",
        "tip_trap": "Lämna det här fältet tomt",
        "tip_send": "Skicka",
        "tip_privacy": "Vi sparar det du skickar i högst {days} dagar. Kontaktuppgifter publiceras aldrig.",
        "tip_thanks_title": "Tack!",
        "tip_thanks": "Redaktionen har fått det du skickade.",
        "tip_already": "Redaktionen har redan fått det här. Tack!",
        "tip_delete_hint": "Ångrar du dig? Med den här länken kan du radera det du skickade:",
        "tip_delete_code": "Raderingskod: {code}",
        "tip_delete_title": "Radera det du skickade",
        "tip_delete_button": "Radera",
        "tip_deleted": "Det du skickade är raderat.",
        "tip_delete_unknown": "Det finns inget tips med den koden. Det kan redan vara raderat.",
        "tip_back": "Tillbaka till händelsen",
        "tip_back_front": "Till startsidan",
        "tip_refused_title": "Det gick inte att skicka",
        "tip_error_rate": "Du har skickat många tips på kort tid. Vänta en stund och försök igen.",
        "tip_error_trap": "Tipset skickades inte: ett fält som ska lämnas tomt var ifyllt.",
        "tip_error_expired": "Formuläret är för gammalt. Ladda om sidan och skicka igen.",
        "tip_error_origin": "Tipset måste skickas från formuläret på vår egen sida.",
        "tip_error_empty": "Skriv ditt tips eller din fråga.",
        "tip_error_long": "Texten är för lång: högst {n} tecken.",
        "tip_error_field_long": "Namnet och kontaktuppgifterna får vara högst {n} tecken vardera.",
        "tip_error_text": "Texten innehåller tecken som inte kan tas emot.",
        "tip_error_photo": "Bilden kunde inte tas emot: {reason}",
        "tip_error_closed": "Händelsen är avslutad och tar inte emot fler tips.",
        "tip_error_busy": "Bilden kunde inte tas emot just nu. Skicka igen om en stund.",
        "home": "Till startsidan",
        "now": "Just nu",
        "no_live": "Inga pågående händelser just nu.",
        "recently_closed": "Nyligen avslutade",
        "most_followed": "Mest följda just nu",
        "search": "Sök nyheter",
        "search_button": "Sök",
        "exact": "Exakt fras",
        "titles_only": "Bara rubriker",
        "results": "Träffar för ”{q}”",
        "no_results": "Inga träffar.",
        "not_found": "Händelsen finns inte.",
        "error_status": "Felkod {status}",
        "error_hint": "Kontrollera adressen, eller börja om från startsidan.",
        "error_403": "Det här får du inte göra.",
        "error_404": "Sidan finns inte.",
        "error_405": "Adressen går inte att använda på det sättet.",
        "error_410": "Händelsen har tagits bort.",
        "error_hint_410": "Redaktionen har tagit bort den här händelsen. Börja om från startsidan.",
        "error_429": "För många förfrågningar på kort tid. Vänta en stund och försök igen.",
        "error_4xx": "Adressen går inte att använda.",
        "error_5xx": "Något gick fel hos oss. Försök igen om en stund.",
        "skip_to_content": "Till innehållet",
        "site_nav": "Webbplatsen",
        "language": "In English",
        "full_story": "Läs hela händelsen på {site}",
        "removed": "Händelsen har tagits bort av redaktionen.",
    },
    "en": {
        "live": "LIVE",
        "closed": "Closed",
        "published": "Published",
        "updated": "Last updated",
        "update_label": "Update",
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
        "new_updates": "{n} new updates",
        "new_update": "1 new update",
        "announce": "New update {label}: {text}",
        "announce_retracted": "Update {label} has been withdrawn.",
        "announce_corrected": "Update {label} has been withdrawn: {text}",
        "by": "By",
        "photo": "Photo:",
        "photo_alt": "Photo for the story: {title}",
        "card_consent": "The content is shown from {provider} – click to show it",
        "viewers": "{n} following now",
        "more": "Show more",
        "loading": "Loading…",
        "load_failed": "Could not load more updates. Try again.",
        "latest": "To the latest updates",
        "follow": "Follow the story live",
        "push_follow": "Follow",
        "push_unfollow": "Stop following",
        "push_hint": "Get an alert on key events and when the story closes – no account needed.",
        "push_on": "You follow this story: you get an alert on key events and when it closes.",
        "push_off": "You no longer follow this story.",
        "push_denied": "Notifications are blocked for this site. Allow them in the browser's settings.",
        "push_unsupported": "This browser cannot receive notifications.",
        "push_failed": "Following did not start. Please try again.",
        "push_embed": "Follow this story",
        "share": "Share via",
        "email": "Email",
        "copy_link": "Copy link",
        "copied": "Link copied",
        "feed": "Atom feed",
        "view_nav": "Show",
        "view_all": "All updates",
        "view_key": "Key events only",
        "order_newest": "Newest first",
        "order_oldest": "Oldest first",
        "no_key_entries": "No key events yet.",
        "ad_label": "Advertisement",
        "support_title": "Support our local journalism",
        "support_text": "Support our local journalism with a Swish payment to {number}.",
        "support_qr_alt": "QR code for a Swish payment to {number}",
        "tip_title": "Tip off the newsroom or ask the reporter",
        "tip_intro": "Have you seen something, or do you have a question? No account needed.",
        "tip_kind": "I want to",
        "tip_kind_tip": "tip off the newsroom",
        "tip_kind_question": "ask the reporter",
        "tip_text": "Your tip or question",
        "tip_photo": "Photo (optional)",
        "tip_name": "Your name (optional)",
        "tip_publish_name": "You may print my name if you answer the question",
        "tip_contact": "Phone or e-mail if we may contact you (optional; never published)",
        "tip_trap": "Leave this field empty",
        "tip_send": "Send",
        "tip_privacy": "We keep what you send for at most {days} days. Contact details are never published.",
        "tip_thanks_title": "Thank you!",
        "tip_thanks": "The newsroom has received what you sent.",
        "tip_already": "The newsroom has received this already. Thank you!",
        "tip_delete_hint": "Changed your mind? With this link you can delete what you sent:",
        "tip_delete_code": "Deletion code: {code}",
        "tip_delete_title": "Delete what you sent",
        "tip_delete_button": "Delete",
        "tip_deleted": "What you sent has been deleted.",
        "tip_delete_unknown": "There is no tip with that code. It may have been deleted already.",
        "tip_back": "Back to the story",
        "tip_back_front": "To the front page",
        "tip_refused_title": "It could not be sent",
        "tip_error_rate": "You have sent many tips in a short time. Wait a while and try again.",
        "tip_error_trap": "The tip was not sent: a field that must be left empty was filled in.",
        "tip_error_expired": "The form is too old. Reload the page and send again.",
        "tip_error_origin": "Tips must be sent from the form on our own page.",
        "tip_error_empty": "Write your tip or question.",
        "tip_error_long": "The text is too long: at most {n} characters.",
        "tip_error_field_long": "The name and the contact details may be at most {n} characters each.",
        "tip_error_text": "The text holds characters that cannot be accepted.",
        "tip_error_photo": "The photo could not be accepted: {reason}",
        "tip_error_closed": "The story is closed and takes no more tips.",
        "tip_error_busy": "The photo could not be taken just now. Send again in a moment.",
        "home": "To the front page",
        "now": "Right now",
        "no_live": "No live stories right now.",
        "recently_closed": "Recently closed",
        "most_followed": "Most followed now",
        "search": "Search the news",
        "search_button": "Search",
        "exact": "Exact phrase",
        "titles_only": "Headlines only",
        "results": "Results for “{q}”",
        "no_results": "No results.",
        "not_found": "No such incident.",
        "error_status": "Error {status}",
        "error_hint": "Check the address, or start again from the front page.",
        "error_403": "You may not do this.",
        "error_404": "There is no such page.",
        "error_405": "This address cannot be used that way.",
        "error_410": "This story has been removed.",
        "error_hint_410": "The newsroom has removed this story. Start again from the front page.",
        "error_429": "Too many requests in a short time. Wait a moment and try again.",
        "error_4xx": "This address cannot be used.",
        "error_5xx": "Something went wrong on our side. Try again in a moment.",
        "skip_to_content": "Skip to content",
        "site_nav": "Site",
        "language": "På svenska",
        "full_story": "Read the full story on {site}",
        "removed": "This story has been removed by the newsroom.",
    },
}


def language(request: Request) -> str:
    """``?lang=`` first, then the preferred language of Accept-Language that we have, then Swedish."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.partition(";")
        primary = tag.strip().lower()[:2]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def when(moment: datetime, lang: str) -> str:
    """``7 maj 2024 22:37`` in Europe/Stockholm."""
    return str(format_datetime(moment, "d MMMM y HH:mm", tzinfo=TIMEZONE, locale=lang))


def clock(moment: datetime, lang: str) -> str:
    return str(format_datetime(moment, "HH:mm", tzinfo=TIMEZONE, locale=lang))


def number(value: int, lang: str) -> str:
    return str(format_decimal(value, locale=lang))


def headline(entry: dict[str, Any], lang: str) -> str:
    """A one-line title for an entry (feeds, structured data): its time label and the start of its text."""
    text = " ".join(text_of(entry["body"]).split())
    if len(text) > HEADLINE_CHARS:
        text = text[: HEADLINE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    label = f"{STRINGS[lang]['update_label']} {entry['label']}"
    return f"{label}: {text}" if text else label
