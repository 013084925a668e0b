"""A demo incident and reporter, so a newcomer sees a live page within a minute."""

from __future__ import annotations

from ticker.config import Settings
from ticker.exceptions import Conflict, NotFound
from ticker.sanitize import clean_html
from ticker.store.accounts import Account, add_user, create_token, user_by_name
from ticker.store.sql import Store
from ticker.store.writes import Author, create_incident, post_entry

SLUG = "polisjakt-genom-centrum"
INCIDENT = {
    "title": "Polisjakt genom centrum",
    "summary": "En bil som inte stannade för kontroll jagades av polis genom centrala staden under kvällen.",
    "category": "Blåljus",
    "location": "Centrum",
}
ENTRIES = [
    ("22:37", "Polisen larmades om en bil som inte stannade vid en trafikkontroll på Storgatan."),
    ("22:52", "Flera polisbilar och en helikopter deltar nu i jakten. Undvik området kring resecentrum."),
    ("23:00", "Vi avbröt insatsen då bilen inte hittades, uppger polisens presstalesperson."),
]


async def create_demo(store: Store, settings: Settings) -> tuple[str, str, str]:
    """Idempotent: reuses the demo reporter and incident when they exist. Returns (reader URL, token, slug)."""
    try:
        reporter: Account = await user_by_name(store, "demo")
    except NotFound:
        reporter = await add_user(store, "demo", "Demo Reporter", "editor")
    token = await create_token(store, reporter, "demo")
    try:
        await store.write(create_incident(SLUG, INCIDENT), status=201)
    except Conflict:
        pass
    else:
        author = Author(reporter.id, reporter.display_name)
        for label, text in ENTRIES:
            await store.write(
                post_entry(SLUG, author, clean_html(text), label, key_event=label == "22:37", pinned=False)
            )
    return f"{settings.resolved_public_url()}/i/{SLUG}", token, SLUG
