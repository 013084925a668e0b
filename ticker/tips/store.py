"""Tips in SQL: taking one in (the rate limit and duplicates decided in the same transaction), the desk's views,
an answer as an entry, a discard, a deletion (by an editor, or by the reader's code), and the janitor's expiry."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ticker.errors import Refused
from ticker.store.sql import Store, Tx, WriteOp
from ticker.store.tables import Incident
from ticker.store.writes import Author, post_entry
from ticker.tips.model import Tip, TipKey

KINDS = ("tip", "question")
OPEN = "new"


def _now() -> datetime:
    return datetime.now(UTC)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def secret_key(store: Store) -> bytes:
    """The installation's key (made by the first node that needs it; every node reads the same row)."""
    async with store.reading() as session:
        found = await session.scalar(select(TipKey.secret).where(TipKey.id == 1))
    if found is None:
        try:
            async with store.writing() as session:
                session.add(TipKey(id=1, secret=secrets.token_hex(32), created_at=_now()))
        except IntegrityError:
            pass  # another node made it first: read theirs
        async with store.reading() as session:
            found = await session.scalar(select(TipKey.secret).where(TipKey.id == 1))
    assert found is not None
    return bytes.fromhex(found)


def keyed(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NewTip:
    incident: str | None  # the slug, or None for a tip from the front page
    kind: str
    body: str
    name: str
    may_name: bool
    contact: str
    photo: bytes | None


@dataclass(frozen=True)
class Taken:
    id: int | None  # None: a duplicate of one taken within the window (nothing stored)
    code: str  # the reader's deletion code ("" for a duplicate)


def rate_limited(most: int, window_seconds: int) -> Refused:
    return Refused("rate_limited", f"at most {most} tips per {window_seconds} s from one address", "body")


async def take(store: Store, tip: NewTip, *, key: bytes, address: str, per_client: int, window_seconds: int) -> Taken:
    """Store a reader's tip, unless the same sender sent the same text within the window (a twin) or has sent
    ``per_client`` tips within it (rate_limited). Counted in SQL, so every node counts the same (requests at the
    same moment may each pass the count: a burst can exceed it by those in flight)."""
    client = keyed(key, f"client:{address}")
    fingerprint = keyed(key, f"tip:{address}:{tip.incident or ''}:{' '.join(tip.body.split())}")
    since = _now() - timedelta(seconds=window_seconds)
    code = secrets.token_urlsafe(12)
    async with store.writing() as session:
        if tip.incident is not None:
            incident = await session.scalar(select(Incident).where(Incident.slug == tip.incident))
            if incident is None or incident.status == "deleted":
                raise Refused.not_found("incident")
            if incident.status != "live":
                raise Refused.conflict("the incident is closed and takes no tips", "incident")
            incident_id: int | None = incident.id
        else:
            incident_id = None
        recent = select(Tip.id).where(Tip.client == client, Tip.created_at > since)
        if await session.scalar(recent.where(Tip.fingerprint == fingerprint).limit(1)) is not None:
            return Taken(None, "")
        if (await session.scalar(select(func.count()).select_from(recent.subquery())) or 0) >= per_client:
            raise rate_limited(per_client, window_seconds)
        row = Tip(
            incident_id=incident_id,
            kind=tip.kind,
            body=tip.body,
            name=tip.name,
            may_name=tip.may_name and bool(tip.name),
            contact=tip.contact,
            photo=tip.photo,
            client=client,
            fingerprint=fingerprint,
            deletion=digest(code),
            created_at=_now(),
            state=OPEN,
            version=1,
        )
        session.add(row)
        await session.flush()
        return Taken(row.id, code)


def tip_view(tip: Tip, slug: str | None, title: str | None) -> dict[str, Any]:
    """A tip as the desk's editors see it (contact details too: never anywhere public)."""
    return {
        "id": tip.id,
        "incident": slug,
        "incident_title": title,
        "kind": tip.kind,
        "body": tip.body,
        "name": tip.name,
        "may_name": tip.may_name,
        "contact": tip.contact,
        "photo": f"/api/tips/{tip.id}/photo" if tip.photo is not None else None,
        "created_at": tip.created_at.isoformat(),
        "state": tip.state,
        "decided_by": tip.decided_by,
        "entry": tip.entry_id,
        "version": tip.version,
    }


async def tip_views(store: Store, *, ids: list[int] | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The open tips, newest first (``ids``: those tips, in any state; one that is gone is ``{"id", "state":
    "deleted"}``, so a desk drops it)."""
    query = select(Tip, Incident.slug, Incident.title).outerjoin(Incident, Incident.id == Tip.incident_id)
    if ids is None:
        query = query.where(Tip.state == OPEN).order_by(Tip.id.desc()).limit(limit)
    else:
        query = query.where(Tip.id.in_(ids))
    async with store.reading() as session:
        rows = (await session.execute(query)).all()
    found = [tip_view(tip, slug, title) for tip, slug, title in rows]
    if ids is not None:
        seen = {view["id"] for view in found}
        found += [{"id": i, "state": "deleted"} for i in ids if i not in seen]
    return found


async def photo_of(store: Store, tip_id: int) -> bytes:
    async with store.reading() as session:
        photo = await session.scalar(select(Tip.photo).where(Tip.id == tip_id))
    if photo is None:
        raise Refused.not_found("tip photo")
    return photo


def answer_body(tip: Tip, answer: str, with_name: bool) -> str:
    """The entry: "Fråga från en läsare: … Svar: …", naming the reader only where they agreed."""
    asker = "Fråga från en läsare" if tip.kind == "question" else "Tips från en läsare"
    if with_name and tip.may_name and tip.name:
        asker += f", {tip.name}"

    def paragraphs(text: str) -> str:
        return "<br>".join(html.escape(line) for line in text.strip().splitlines())

    question = f"<p><strong>{html.escape(asker)}:</strong> {paragraphs(tip.body)}</p>"
    return f"{question}<p><strong>Svar:</strong> {paragraphs(answer)}</p>"


def answer_tip(
    tip_id: int, incident: str | None, answer: str, with_name: bool, label: str, by: Author, clean: Any
) -> WriteOp:
    """One transaction: the answer's entry in the tip's incident (or, for a general tip, the one the editor chose)
    and the tip marked answered. ``clean`` sanitises the entry's HTML as every entry is."""

    async def op(tx: Tx) -> dict[str, Any]:
        tip = await tx.session.scalar(select(Tip).where(Tip.id == tip_id).with_for_update())
        if tip is None:
            raise Refused.not_found("tip")
        if tip.state != OPEN:
            raise Refused.conflict(f"the tip is already {tip.state}", "tip")
        slug = incident
        if tip.incident_id is not None:
            slug = await tx.session.scalar(select(Incident.slug).where(Incident.id == tip.incident_id))
        if not slug:
            raise Refused("invalid", "a general tip needs the incident its answer goes to", "incident")
        posted = await post_entry(slug, by, clean(answer_body(tip, answer, with_name)), label, False, False)(tx)
        tip.state, tip.decided_by, tip.decided_at = "answered", by.name, tx.at
        tip.entry_id = posted["entry"]["id"]
        tip.version += 1
        return {**posted, "tip": tip_id}

    return op


async def discard(store: Store, tip_id: int, by: str) -> None:
    async with store.writing() as session:
        tip = await session.scalar(select(Tip).where(Tip.id == tip_id).with_for_update())
        if tip is None:
            raise Refused.not_found("tip")
        if tip.state != OPEN:
            raise Refused.conflict(f"the tip is already {tip.state}", "tip")
        tip.state, tip.decided_by, tip.decided_at = "discarded", by, _now()
        tip.version += 1


async def remove(store: Store, tip_id: int) -> None:
    """Delete a tip and everything the reader sent (an editor, on the reader's request)."""
    async with store.writing() as session:
        gone = await session.execute(delete(Tip).where(Tip.id == tip_id).returning(Tip.id))
        if gone.first() is None:
            raise Refused.not_found("tip")


async def remove_by_code(store: Store, code: str) -> int | None:
    """The reader's own deletion: the tip whose code this is, or None when there is none (any more)."""
    async with store.writing() as session:
        gone = await session.execute(delete(Tip).where(Tip.deletion == digest(code)).returning(Tip.id))
        row = gone.first()
    return row[0] if row is not None else None


async def expire(store: Store, keep_days: int) -> list[int]:
    """Delete every tip older than ``keep_days`` (answered ones too: their entry stays, the personal data goes)."""
    before = _now() - timedelta(days=keep_days)
    async with store.writing() as session:
        gone = await session.execute(delete(Tip).where(Tip.created_at < before).returning(Tip.id))
        return [row[0] for row in gone]
