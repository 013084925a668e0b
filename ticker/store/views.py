"""The public JSON shape of incidents and entries: the same dicts go into events, snapshots and the API."""

from __future__ import annotations

from typing import Any

from ticker.events import isoformat
from ticker.store.tables import Entry, Incident


def incident_view(incident: Incident) -> dict[str, Any]:
    return {
        "slug": incident.slug,
        "title": incident.title,
        "summary": incident.summary,
        "status": incident.status,
        "category": incident.category,
        "location": incident.location,
        "photo_url": incident.photo_url,
        "photo_credit": incident.photo_credit,
        # The lead photo, uploaded (ticker.media.photos); only an incident with one has the field, as entries'
        # photos: without it, photo_url (if any) is shown as before.
        **({"photo": incident.photo} if incident.photo else {}),
        "epoch": incident.epoch,
        "created_at": isoformat(incident.created_at),
        "updated_at": isoformat(incident.updated_at),
        "closed_at": isoformat(incident.closed_at) if incident.closed_at else None,
    }


def withdrawn(retracted: bool, correction: str | None) -> bool:
    """A withdrawn entry (retracted without a correction note) shows on no reader page and in no embed. Decided here
    only: entries carry it as ``withdrawn``, and the pages, templates and scripts read that."""
    return retracted and not correction


def entry_view(entry: Entry, slug: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "incident": slug,
        "author": entry.author_name,
        "body": "" if entry.retracted else entry.body,
        "label": entry.label,
        "created_at": isoformat(entry.created_at),
        "edited_at": isoformat(entry.edited_at) if entry.edited_at else None,
        "key_event": entry.key_event,
        "pinned": entry.pinned,
        "retracted": entry.retracted,
        "correction": entry.correction,
        "withdrawn": withdrawn(entry.retracted, entry.correction),
        # Only an entry with photos has the field, as with cards: a retracted entry shows none of them.
        **({"photos": entry.photos} if entry.photos and not entry.retracted else {}),
        # Only an entry with link cards has the field (docs/protocol.md): older clients and files see no change.
        **({"cards": entry.cards} if entry.cards and not entry.retracted else {}),
    }
