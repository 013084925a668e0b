"""A demo incident, an editor who logs into the desk and a reporter with a token, so that a newcomer sees a live
page and posts to it within a minute (``ticker serve --demo``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticker.config import Settings
from ticker.errors import Refused
from ticker.i18n import TIMEZONE
from ticker.sanitize import clean_html
from ticker.store.accounts import Account, add_user, create_token, set_password, user_by_name
from ticker.store.sql import Store
from ticker.store.writes import Author, create_incident, post_entry

SLUG = "polisjakt-genom-centrum"
EDITOR = ("demo", "Demo Redaktör", "editor")  # logs into the desk with the password printed at each start
REPORTER = ("demo-reporter", "Demo Reporter", "reporter")  # posts with the token printed at each start
INCIDENT = {
    "title": "Polisjakt genom centrum",
    "summary": "En bil som inte stannade för kontroll jagas av polis genom centrala staden.",
    "category": "Blåljus",
    "location": "Centrum",
}
# Minutes before the start, oldest first: the story so far, so that the next post (labelled now) comes on top.
ENTRIES = [
    (34, "Polisen larmades om en bil som inte stannade vid en trafikkontroll på Storgatan."),
    (21, "Flera polisbilar och en helikopter deltar nu i jakten. Undvik området kring resecentrum."),
    (9, "Bilen sågs senast på väg söderut mot Södra vägen, uppger polisens presstalesperson."),
]


@dataclass(frozen=True)
class Demo:
    reader_url: str
    desk_url: str
    login: str  # the editor's user name
    password: str
    reporter: str
    token: str  # the reporter's, shown once
    slug: str


async def _account(store: Store, name: str, display_name: str, role: str) -> Account:
    try:
        return await user_by_name(store, name)
    except Refused as refused:
        if refused.code != "not_found":
            raise
        return await add_user(store, name, display_name, role)


async def create_demo(store: Store, settings: Settings, now: datetime | None = None) -> Demo:
    """Idempotent: reuses the demo accounts and incident when they exist; a new password and token each time."""
    editor = await _account(store, *EDITOR)
    reporter = await _account(store, *REPORTER)
    password = secrets.token_urlsafe(12)  # 16 characters, new at each start: only the person at the console has it
    await set_password(store, editor, password)
    token = await create_token(store, reporter, "demo")
    try:
        await store.write(create_incident(SLUG, INCIDENT), status=201)
    except Refused as refused:
        if refused.code != "conflict":
            raise
    else:
        at = (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
        author = Author(reporter.id, reporter.display_name)
        for minutes, text in ENTRIES:
            label = (at - timedelta(minutes=minutes)).strftime("%H:%M")
            first = minutes == ENTRIES[0][0]
            await store.write(post_entry(SLUG, author, clean_html(text), label, key_event=first, pinned=False))
    base = settings.resolved_public_url()
    return Demo(f"{base}/i/{SLUG}", f"{base}/desk", editor.name, password, reporter.name, token, SLUG)
