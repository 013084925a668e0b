"""A deleted incident's row: its tombstone.

A takedown (ticker.store.takedown) removes everything an incident held but keeps its row, emptied, with the
status ``deleted``: its slug stays taken, so its addresses answer 410 Gone for good instead of 404, a new incident
never gets the old address (and the links to it), and only an admin's deliberate import may take it again
(ticker.store.transfer). No migration was needed: ``status`` had room for the word.
"""

from __future__ import annotations

from ticker.errors import Refused
from ticker.store.tables import Incident

DELETED = "deleted"


def standing(incident: Incident | None) -> Incident:
    """The incident, unless there is none (404) or it was deleted (410)."""
    if incident is None:
        raise Refused.not_found("incident")
    if incident.status == DELETED:
        raise Refused.gone("incident")
    return incident


def forget(incident: Incident) -> None:
    """Empty the row of what it said, keeping its slug, id (what the audit log and links name) and epoch."""
    incident.title = incident.summary = incident.category = incident.location = ""
    incident.photo_url = incident.photo_credit = incident.photo = None
    incident.status = DELETED
