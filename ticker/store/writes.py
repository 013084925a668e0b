"""Changes to incidents and entries. Each is a WriteOp: it runs inside ``Store.write`` and emits its events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import make_transient_to_detached

from ticker.errors import Refused
from ticker.events import EventType
from ticker.push import alerts as push_alerts
from ticker.roles import Action, may_change_entry, refusal
from ticker.store.accounts import Account
from ticker.store.audit import AuditKind, created
from ticker.store.newsroom import EntryRevision, Submission, submission_view
from ticker.store.sql import Tx, WriteOp
from ticker.store.tables import Entry, Incident
from ticker.store.tombstone import DELETED
from ticker.store.views import entry_view, incident_view

# Built once (ticker.store.sql says why).
ENTRIES = cast(Table, Entry.__table__)
ENTRY_COLUMNS = tuple(column.key for column in ENTRIES.columns if column.key != "id")
INSERT_ENTRY = insert(ENTRIES).returning(ENTRIES.c.id)
INSERT_REVISION = insert(cast(Table, EntryRevision.__table__))
INCIDENT_FIELDS = ("title", "summary", "category", "location", "photo_url", "photo_credit", "photo")


@dataclass(frozen=True)
class Author:
    id: int
    name: str


def create_incident(slug: str, fields: dict[str, Any]) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        taken = await tx.session.scalar(select(Incident.status).where(Incident.slug == slug))
        if taken == DELETED:  # its old links must not lead to new content (ticker.store.tombstone)
            raise Refused.conflict(f"{slug!r} was a deleted incident's address and is not used again", "slug")
        if taken is not None:
            raise Refused.conflict(f"an incident with slug {slug!r} exists", "slug")
        incident = Incident(
            slug=slug,
            title=fields["title"],
            summary=fields.get("summary") or "",
            status="live",
            category=fields.get("category") or "",
            location=fields.get("location") or "",
            photo_url=fields.get("photo_url"),
            photo_credit=fields.get("photo_credit"),
            photo=fields.get("photo"),
            epoch=secrets.token_urlsafe(6),
            seq=0,
            created_at=tx.at,
            updated_at=tx.at,
        )
        tx.session.add(incident)
        await tx.session.flush()
        seq = await tx.emit(incident, EventType.INCIDENT_UPDATED, {"incident": incident_view(incident)})
        return {"incident": incident_view(incident), "seq": seq}

    return op


def update_incident(slug: str, changes: dict[str, Any]) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        for name in INCIDENT_FIELDS:
            if name in changes:
                setattr(incident, name, changes[name] if changes[name] is not None else _empty(name))
        if changes.get("photo"):  # an uploaded lead photo takes the place of a hot-linked one (ticker.media.photos)
            incident.photo_url = incident.photo_credit = None
        return await _incident_event(tx, incident, EventType.INCIDENT_UPDATED)

    return op


def set_status(slug: str, status: str) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        if incident.status == status:
            raise Refused.conflict(f"the incident is already {status}", "status")
        incident.status = status
        incident.closed_at = tx.at if status == "closed" else None
        kind = EventType.INCIDENT_CLOSED if status == "closed" else EventType.INCIDENT_REOPENED
        result = await _incident_event(tx, incident, kind)
        if status == "closed":
            push_alerts.closed(tx, incident)  # its followers' last alert (ticker.push)
        return result

    return op


def post_entry(
    slug: str,
    author: Author,
    body: str,
    label: str,
    key_event: bool,
    pinned: bool,
    cards: list[dict[str, Any]] | None = None,
    photos: list[dict[str, Any]] | None = None,
) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await _live_incident(tx, slug)
        if pinned:
            await _unpin_current(tx, incident, author)
        # Cards are made before the transaction (ticker.media.cards), photos uploaded and checked before it
        # (ticker.media.photos).
        entry = await _new_entry(tx, incident, author, body, label, key_event, pinned, cards, photos)
        result = await _entry_event(tx, incident, entry, EventType.ENTRY_POSTED, author)
        push_alerts.key_event(tx, incident, entry, was_key=False)
        return result

    return op


def submit_entry(
    slug: str, author: Author, body: str, label: str, key_event: bool, photos: list[dict[str, Any]] | None = None
) -> WriteOp:
    """A contributor's post: kept for an editor's approval, with no event (readers see nothing yet)."""

    async def op(tx: Tx) -> dict[str, Any]:
        incident = await _live_incident(tx, slug)
        submission = Submission(
            incident_id=incident.id,
            author_id=author.id,
            author_name=author.name,
            body=body,
            label=label,
            key_event=key_event,
            created_at=tx.at,
            status="pending",
            photos=photos or None,
        )
        tx.session.add(submission)
        await tx.session.flush()
        changes = created({"body": body, "label": label, "key_event": key_event})
        tx.audit(AuditKind.SUBMISSION_SUBMITTED, incident=slug, subject=submission.id, changes=changes)
        return {"submission": submission_view(submission, slug)}

    return op


def approve_submission(
    slug: str, submission_id: int, by: Author, made: tuple[str, list[dict[str, Any]]] | None = None
) -> WriteOp:
    """Publish a contributor's post as the contributor's entry: this is when its entry.posted is emitted. ``made``:
    its body and link cards, made from the submission's body before the transaction (ticker.media.cards)."""

    async def op(tx: Tx) -> dict[str, Any]:
        incident = await _live_incident(tx, slug)
        submission = await _pending(tx, incident, submission_id)
        author = Author(submission.author_id, submission.author_name)
        body, cards = made if made is not None else (submission.body, None)
        # Its photos were uploaded with the submission (ticker.media.photos).
        entry = await _new_entry(
            tx, incident, author, body, submission.label, submission.key_event, False, cards, submission.photos
        )
        await _revision(tx, entry, "submitted", author, submission.created_at)
        submission.status, submission.entry_id = "approved", entry.id
        submission.decided_by, submission.decided_at = by.name, tx.at
        result = await _entry_event(tx, incident, entry, EventType.ENTRY_POSTED, by, action="approved")
        push_alerts.key_event(tx, incident, entry, was_key=False)
        return {**result, "submission": submission_view(submission, slug)}

    return op


def reject_submission(slug: str, submission_id: int, by: Author, reason: str | None) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        submission = await _pending(tx, incident, submission_id)
        submission.status, submission.reason = "rejected", reason
        submission.decided_by, submission.decided_at = by.name, tx.at
        changes = {"status": ["pending", "rejected"], **created({"reason": reason})}
        tx.audit(AuditKind.SUBMISSION_REJECTED, incident=slug, subject=submission.id, changes=changes)
        return {"submission": submission_view(submission, slug)}

    return op


def edit_entry(slug: str, entry_id: int, changes: dict[str, Any], by: Account) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _own_live_entry(tx, incident, entry_id, by)
        was_key, text_changed = entry.key_event, False
        for name in ("body", "label"):
            if name in changes and changes[name] != getattr(entry, name):
                setattr(entry, name, changes[name])
                text_changed = True
        if "key_event" in changes:
            entry.key_event = changes["key_event"]
        if "cards" in changes:  # made for the new body before the transaction (ticker.media.cards)
            entry.cards = changes["cards"] or None
        if "photos" in changes and (changes["photos"] or None) != entry.photos:  # a photo added, replaced, removed
            entry.photos = changes["photos"] or None
            text_changed = True
        if text_changed:
            entry.edited_at = tx.at
        result = await _entry_event(tx, incident, entry, EventType.ENTRY_EDITED, author_of(by))
        push_alerts.key_event(tx, incident, entry, was_key)  # only an entry that becomes a key event alerts
        return result

    return op


def retract_entry(slug: str, entry_id: int, correction: str | None, by: Account) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _own_live_entry(tx, incident, entry_id, by)
        entry.retracted = True
        entry.pinned = False
        entry.key_event = False
        entry.correction = correction
        return await _entry_event(tx, incident, entry, EventType.ENTRY_RETRACTED, author_of(by))

    return op


def pin_entry(slug: str, entry_id: int, pinned: bool, by: Author) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _live_entry(tx, incident, entry_id)
        if entry.pinned == pinned:
            raise Refused.conflict("the entry is already " + ("pinned" if pinned else "not pinned"), "pinned")
        if pinned:
            await _unpin_current(tx, incident, by)
        entry.pinned = pinned
        kind = EventType.ENTRY_PINNED if pinned else EventType.ENTRY_UNPINNED
        return await _entry_event(tx, incident, entry, kind, by)

    return op


def author_of(account: Account) -> Author:
    return Author(account.id, account.display_name)


async def _live_incident(tx: Tx, slug: str) -> Incident:
    incident = await tx.incident(slug)
    if incident.status != "live":
        raise Refused.conflict("the incident is closed; reopen it to post", "incident")
    return incident


async def _new_entry(
    tx: Tx,
    incident: Incident,
    author: Author,
    body: str,
    label: str,
    key_event: bool,
    pinned: bool,
    cards: list[dict[str, Any]] | None,
    photos: list[dict[str, Any]] | None,
) -> Entry:
    """The entry, inserted with a plain statement and then put into the session as a row it has loaded (every
    column set: none is left to load): the ORM's flush of a new row cost a post more than the insert itself."""
    entry = Entry(
        incident_id=incident.id,
        author_id=author.id,
        author_name=author.name,
        body=body,
        label=label,
        created_at=tx.at,
        edited_at=None,
        key_event=key_event,
        pinned=pinned,
        retracted=False,
        correction=None,
        photos=photos or None,
        cards=cards or None,
    )
    values = {name: getattr(entry, name) for name in ENTRY_COLUMNS}
    entry.id = (await tx.session.execute(INSERT_ENTRY, values)).scalar_one()
    make_transient_to_detached(entry)
    tx.session.add(entry)
    return entry


async def _pending(tx: Tx, incident: Incident, submission_id: int) -> Submission:
    found = await tx.session.scalar(
        select(Submission).where(Submission.id == submission_id, Submission.incident_id == incident.id)
    )
    if found is None:
        raise Refused.not_found("submission")
    if found.status != "pending":
        raise Refused.conflict(f"the submission is already {found.status}", "submission")
    return found


async def _live_entry(tx: Tx, incident: Incident, entry_id: int) -> Entry:
    entry = await tx.entry(incident, entry_id)
    if entry.retracted:
        raise Refused.conflict("the entry is retracted", "entry")
    return entry


async def _own_live_entry(tx: Tx, incident: Incident, entry_id: int, by: Account) -> Entry:
    """The entry, if ``by`` may edit or retract it (ticker.roles: editors any entry, reporters their own)."""
    entry = await _live_entry(tx, incident, entry_id)
    own = entry.author_id == by.id
    if not may_change_entry(by.role, own):
        raise Refused.forbidden(refusal(by.role, Action.CHANGE_OWN_ENTRY if own else Action.CHANGE_ANY_ENTRY))
    return entry


async def _unpin_current(tx: Tx, incident: Incident, by: Author) -> None:
    current = await tx.session.scalar(select(Entry).where(Entry.incident_id == incident.id, Entry.pinned))
    if current is not None:
        current.pinned = False
        await _entry_event(tx, incident, current, EventType.ENTRY_UNPINNED, by)


async def _entry_event(
    tx: Tx, incident: Incident, entry: Entry, kind: EventType, by: Author, action: str | None = None
) -> dict[str, Any]:
    """Emit the entry's event and keep the change in its history (``action``: the event's verb by default)."""
    view = entry_view(entry, incident.slug)
    seq = await tx.emit(incident, kind, {"entry": view})
    await _revision(tx, entry, action or kind.removeprefix("entry."), by, tx.at)
    return {"entry": view, "seq": seq}


async def _revision(tx: Tx, entry: Entry, action: str, by: Author, at: datetime) -> None:
    """Keep the change in the entry's history: a plain insert (the ORM's flush of it cost a post more)."""
    revision = {"entry_id": entry.id, "action": action, "user_id": by.id, "user_name": by.name, "at": at}
    kept = {"body": entry.body, "label": entry.label, "key_event": entry.key_event, "correction": entry.correction}
    await tx.session.execute(INSERT_REVISION, revision | kept)


async def _incident_event(tx: Tx, incident: Incident, kind: EventType) -> dict[str, Any]:
    incident.updated_at = tx.at  # the view inside the event must carry the event's own time
    seq = await tx.emit(incident, kind, {"incident": incident_view(incident)})
    return {"incident": incident_view(incident), "seq": seq}


def _empty(name: str) -> str | None:
    return None if name.startswith("photo") else ""
