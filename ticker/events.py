"""Event types and their wire encoding: one encode per event, shared by the relay and every catch-up path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    ENTRY_POSTED = "entry.posted"
    ENTRY_EDITED = "entry.edited"
    ENTRY_RETRACTED = "entry.retracted"
    ENTRY_PINNED = "entry.pinned"
    ENTRY_UNPINNED = "entry.unpinned"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_REOPENED = "incident.reopened"


@dataclass(frozen=True, slots=True)
class Message:
    """One event as the broker carries it: the incident's slug, its seq and the encoded wire message."""

    topic: str
    seq: int
    payload: bytes


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def encode(topic: str, seq: int, event: str, at: datetime, data: dict[str, Any]) -> Message:
    """The wire message for an event; the only place its shape is built."""
    payload = dumps({"type": "event", "incident": topic, "seq": seq, "event": event, "at": isoformat(at), "data": data})
    return Message(topic, seq, payload)
