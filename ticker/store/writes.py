"""Changes to incidents and entries. Each is a WriteOp: it runs inside ``Store.write`` and emits its events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ticker.events import EventType
from ticker.exceptions import Conflict
from ticker.store.sql import Tx, WriteOp
from ticker.store.tables import Entry, Incident
from ticker.store.views import entry_view, incident_view

INCIDENT_FIELDS = ("title", "summary", "category", "location", "photo_url", "photo_credit")


@dataclass(frozen=True)
class Author:
    id: int
    name: str


def create_incident(slug: str, fields: dict[str, Any]) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        if await tx.session.scalar(select(Incident.id).where(Incident.slug == slug)) is not None:
            raise Conflict(f"an incident with slug {slug!r} exists", "slug")
        incident = Incident(
            slug=slug,
            title=fields["title"],
            summary=fields.get("summary") or "",
            status="live",
            category=fields.get("category") or "",
            location=fields.get("location") or "",
            photo_url=fields.get("photo_url"),
            photo_credit=fields.get("photo_credit"),
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
        return await _incident_event(tx, incident, EventType.INCIDENT_UPDATED)

    return op


def set_status(slug: str, status: str) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        if incident.status == status:
            raise Conflict(f"the incident is already {status}", "status")
        incident.status = status
        incident.closed_at = tx.at if status == "closed" else None
        kind = EventType.INCIDENT_CLOSED if status == "closed" else EventType.INCIDENT_REOPENED
        return await _incident_event(tx, incident, kind)

    return op


def post_entry(slug: str, author: Author, body: str, label: str, key_event: bool, pinned: bool) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        if incident.status != "live":
            raise Conflict("the incident is closed; reopen it to post", "incident")
        if pinned:
            await _unpin_current(tx, incident)
        entry = Entry(
            incident_id=incident.id,
            author_id=author.id,
            author_name=author.name,
            body=body,
            label=label,
            created_at=tx.at,
            key_event=key_event,
            pinned=pinned,
            retracted=False,
        )
        tx.session.add(entry)
        await tx.session.flush()
        return await _entry_event(tx, incident, entry, EventType.ENTRY_POSTED)

    return op


def edit_entry(slug: str, entry_id: int, changes: dict[str, Any]) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _live_entry(tx, incident, entry_id)
        text_changed = False
        for name in ("body", "label"):
            if name in changes and changes[name] != getattr(entry, name):
                setattr(entry, name, changes[name])
                text_changed = True
        if "key_event" in changes:
            entry.key_event = changes["key_event"]
        if text_changed:
            entry.edited_at = tx.at
        return await _entry_event(tx, incident, entry, EventType.ENTRY_EDITED)

    return op


def retract_entry(slug: str, entry_id: int, correction: str | None) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _live_entry(tx, incident, entry_id)
        entry.retracted = True
        entry.pinned = False
        entry.key_event = False
        entry.correction = correction
        return await _entry_event(tx, incident, entry, EventType.ENTRY_RETRACTED)

    return op


def pin_entry(slug: str, entry_id: int, pinned: bool) -> WriteOp:
    async def op(tx: Tx) -> dict[str, Any]:
        incident = await tx.incident(slug)
        entry = await _live_entry(tx, incident, entry_id)
        if entry.pinned == pinned:
            raise Conflict("the entry is already " + ("pinned" if pinned else "not pinned"), "pinned")
        if pinned:
            await _unpin_current(tx, incident)
        entry.pinned = pinned
        return await _entry_event(tx, incident, entry, EventType.ENTRY_PINNED if pinned else EventType.ENTRY_UNPINNED)

    return op


async def _live_entry(tx: Tx, incident: Incident, entry_id: int) -> Entry:
    entry = await tx.entry(incident, entry_id)
    if entry.retracted:
        raise Conflict("the entry is retracted", "entry")
    return entry


async def _unpin_current(tx: Tx, incident: Incident) -> None:
    current = await tx.session.scalar(select(Entry).where(Entry.incident_id == incident.id, Entry.pinned))
    if current is not None:
        current.pinned = False
        await _entry_event(tx, incident, current, EventType.ENTRY_UNPINNED)


async def _entry_event(tx: Tx, incident: Incident, entry: Entry, kind: EventType) -> dict[str, Any]:
    view = entry_view(entry, incident.slug)
    seq = await tx.emit(incident, kind, {"entry": view})
    return {"entry": view, "seq": seq}


async def _incident_event(tx: Tx, incident: Incident, kind: EventType) -> dict[str, Any]:
    incident.updated_at = tx.at  # the view inside the event must carry the event's own time
    seq = await tx.emit(incident, kind, {"incident": incident_view(incident)})
    return {"incident": incident_view(incident), "seq": seq}


def _empty(name: str) -> str | None:
    return None if name.startswith("photo_") else ""
