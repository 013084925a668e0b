"""Link cards over HTTP: the write ops that carry the reporter's notes, and the pages.

On the server's pages, ``{{ entry_body(e, t) }}`` in web/templates/_entry.html renders an entry's body with each
card (web/templates/_link_card.html) in place of its link's paragraph (ticker.media.card_lines): the reader page,
the permalink, the iframe embed's page without JavaScript and the search results all render entries through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse

from ticker.http.node import node
from ticker.media.card_lines import with_cards
from ticker.media.cards import CardNote
from ticker.store.newsroom import Submission
from ticker.store.sql import Idempotency, Store, Tx, WriteOp
from ticker.store.tables import Entry, Incident


def register(env: Environment) -> None:
    card_template = env.get_template("_link_card.html")

    def entry_body(entry: Mapping[str, Any], t: Mapping[str, str], link_target: str | None = None) -> Markup:
        def render(card: Mapping[str, Any]) -> str:
            return card_template.render(card=card, t=t, link_target=link_target)

        return with_cards(entry["body"], entry.get("cards") or (), render)

    env.globals["entry_body"] = entry_body


async def replayed(request: Request, idem: Idempotency | None) -> JSONResponse | None:
    """The stored answer of a retried write, looked up before its cards are fetched: a retry never fetches."""
    if idem is None:
        return None
    found = await node(request).store.replayed(idem)
    return None if found is None else JSONResponse(found.body, status_code=found.status)


def with_notes(op: WriteOp, notes: Sequence[CardNote]) -> WriteOp:
    """``op`` whose answer (the one an Idempotency-Key keeps, too) tells which links stayed plain links, and why."""
    if not notes:
        return op

    async def noted(tx: Tx) -> dict[str, Any]:
        return {**await op(tx), "card_notes": [note.as_json() for note in notes]}

    return noted


async def cards_of(store: Store, slug: str, entry_id: int) -> list[dict[str, Any]]:
    """An entry's cards as stored (an edit keeps those whose links it keeps); none for an unknown entry."""
    query = select(Entry.cards).join(Incident, Incident.id == Entry.incident_id)
    async with store.reading() as session:
        found = await session.scalar(query.where(Incident.slug == slug, Entry.id == entry_id))
    return list(found or ())


async def submission_body(store: Store, slug: str, submission_id: int) -> str | None:
    """A pending submission's body, whose cards its approval makes; None when there is none to approve."""
    query = select(Submission.body).join(Incident, Incident.id == Submission.incident_id)
    query = query.where(Incident.slug == slug, Submission.id == submission_id, Submission.status == "pending")
    async with store.reading() as session:
        return await session.scalar(query)
