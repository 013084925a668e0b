"""The words of alerts, the unsubscribe page and the desk's push panel: Swedish first, English second.

The reader page's button and the embed's link use ticker.i18n's strings (``push_*``), as the rest of those do.
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "sv": {
        # In the notification.
        "closed_body": "Händelsen är avslutad. Du får inga fler notiser om den.",
        "unfollow": "Sluta bevaka",
        # The unsubscribe page.
        "page_title": "Sluta bevaka",
        "confirm": "Vill du sluta få notiser om {title}?",
        "confirm_button": "Sluta bevaka",
        "done": "Du får inte längre notiser om {title}.",
        "unknown": "Bevakningen är avslutad. Du får inga fler notiser genom den.",
        "to_incident": "Till händelsen",
        # The desk's panel.
        "panel_title": "Notiser till läsare",
        "followers": "{n} bevakar händelsen",
        "sent_total": "{n} notiser har skickats",
        "held_total": "{n} hölls tillbaka av gränsen per timme",
        "limit": "Högst {n} notiser per timme; en brådskande skickas ändå.",
        "no_alerts": "Inga notiser ännu. Viktiga händelser och avslutet skickas till alla som bevakar.",
        "kind_key_event": "Viktig händelse",
        "kind_closed": "Avslutad",
        "kind_urgent": "Brådskande",
        "state_queued": "i kö",
        "state_sending": "{sent} av {recipients} skickade",
        "state_held": "hölls tillbaka (gränsen per timme)",
        "state_cancelled": "skickades inte (inlägget drogs tillbaka)",
        "urgent_label": "Skicka som brådskande notis",
        "urgent_entry": "Inlägg",
        "urgent_button": "Skicka notis",
        "urgent_sent": "Notisen skickas till alla som bevakar.",
        "no_entries": "Inga inlägg att skicka ännu.",
    },
    "en": {
        "closed_body": "The story is closed. You will get no more alerts about it.",
        "unfollow": "Stop following",
        "page_title": "Stop following",
        "confirm": "Stop getting alerts about {title}?",
        "confirm_button": "Stop following",
        "done": "You will no longer get alerts about {title}.",
        "unknown": "This subscription has ended. You get no more alerts through it.",
        "to_incident": "To the story",
        "panel_title": "Alerts to readers",
        "followers": "{n} follow the incident",
        "sent_total": "{n} alerts sent",
        "held_total": "{n} held back by the hourly limit",
        "limit": "At most {n} alerts an hour; an urgent one is sent all the same.",
        "no_alerts": "No alerts yet. Key events and the close go to everyone who follows.",
        "kind_key_event": "Key event",
        "kind_closed": "Closed",
        "kind_urgent": "Urgent",
        "state_queued": "queued",
        "state_sending": "{sent} of {recipients} sent",
        "state_held": "held back (hourly limit)",
        "state_cancelled": "not sent (the entry was retracted)",
        "urgent_label": "Send as an urgent alert",
        "urgent_entry": "Entry",
        "urgent_button": "Send alert",
        "urgent_sent": "The alert goes to everyone who follows.",
        "no_entries": "No entries to send yet.",
    },
}


def text(lang: str) -> dict[str, str]:
    return TEXT.get(lang, TEXT["sv"])
