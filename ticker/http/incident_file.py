"""An incident as a file: what `GET /api/incidents/{slug}/export` and `ticker incident export` write, and what
`POST /api/incidents/import` and `ticker incident import` read back (docs/deploy.md, "Moving and taking down an
incident").

One JSON object: the incident, its entries (each with its history), contributors' submissions, the media it
refers to, and its events in seq order, each with the data readers were sent. Times carry their microseconds,
so an import gives back the very rows an export read. Authors are named by their login (``user``, matched on
import) and their byline (``name``, kept as it was).

These models are the validation of an import too, with the API's own rules for each text (ticker.http.api),
so a file cannot bring in what the API would refuse; bodies are sanitised again on the way in, in the entries
and in the events alike. What one field cannot say about another (seqs without gaps, events naming entries of
the file) is checked by ``check``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from ticker.errors import Refused
from ticker.events import EventType
from ticker.http.json_body import Category, Credit, Label, Location, Slug, Strict, Text, Title, Url
from ticker.media.cards import AUTHOR_CHARS, TITLE_CHARS
from ticker.media.providers import BY_NAME
from ticker.textrules import MAX_INT, Line, MultiLine, Name

FORMAT = 1  # the file's version: ``ticker_incident``


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


When = Annotated[AwareDatetime, Field(strict=False), AfterValidator(_utc)]  # an ISO 8601 string with its offset
Id = Annotated[int, Field(ge=1, le=MAX_INT)]
Seq = Annotated[int, Field(ge=1, le=MAX_INT)]
Login = Annotated[Line, Field(min_length=1, max_length=64)]
Byline = Annotated[Name, Field(min_length=1, max_length=120)]
Body = Annotated[MultiLine, Field(min_length=1)]
Correction = Annotated[MultiLine, Field(max_length=1000)]
Epoch = Annotated[Line, Field(min_length=1, max_length=16)]
MediaPath = Annotated[Line, Field(max_length=200, pattern=r"^/media/[0-9a-f]{64}\.[a-z0-9]{2,5}$")]  # ours
PHOTO_TEXT_CHARS = 2000  # a photo's alt text, credit and caption: above TICKER_PHOTO_TEXT_MAX_CHARS's default
Status = Literal["live", "closed"]


class FileModel(Strict):
    """The API's strict models (no field given another type, none unknown), but text kept exactly as it is."""

    model_config = ConfigDict(str_strip_whitespace=False)


class FilePerson(FileModel):
    """Who wrote or changed something: their login here (null: none known) and the byline shown."""

    user: Login | None
    name: Byline


def _provider(name: str) -> str:
    if name not in BY_NAME:
        raise ValueError(f"not a provider of link cards: one of {', '.join(BY_NAME)}")
    return name


class FileCardPicture(FileModel):
    url: MediaPath
    width: Annotated[int, Field(ge=1, le=MAX_INT)]
    height: Annotated[int, Field(ge=1, le=MAX_INT)]


class FileCard(FileModel):
    """A link card (ticker.media.cards) as it was made: the file carries it, it is not fetched again."""

    url: Url
    provider: Annotated[Line, AfterValidator(_provider)]
    provider_name: Annotated[Name, Field(min_length=1, max_length=60)]
    title: Annotated[Name, Field(max_length=TITLE_CHARS)]
    author: Annotated[Name, Field(max_length=AUTHOR_CHARS)]
    thumbnail: FileCardPicture | None
    player: Annotated[Line, Field(max_length=500, pattern=r"^https://\S+$")] | None


PhotoText = Annotated[Line, Field(min_length=1, max_length=PHOTO_TEXT_CHARS)]


class FilePhotoFile(FileModel):
    url: MediaPath
    type: Literal["image/avif", "image/webp", "image/jpeg"]
    width: Annotated[int, Field(ge=1, le=MAX_INT)]
    height: Annotated[int, Field(ge=1, le=MAX_INT)]


class FilePhoto(FileModel):
    """An uploaded photo as an entry or the incident carries it (ticker.media.photos): its files stay in the media
    storage, which moves with the installation, not in the file."""

    id: Annotated[Line, Field(max_length=32, pattern=r"^ph_[A-Za-z0-9_-]+$")]
    alt: PhotoText
    credit: Annotated[Name, Field(min_length=1, max_length=PHOTO_TEXT_CHARS)]
    caption: Annotated[MultiLine, Field(min_length=1, max_length=PHOTO_TEXT_CHARS)] | None
    width: Annotated[int, Field(ge=1, le=MAX_INT)]
    height: Annotated[int, Field(ge=1, le=MAX_INT)]
    src: MediaPath
    files: list[FilePhotoFile]


class FileRevision(FileModel):
    """One change to an entry, oldest first, and the entry as it stood after it."""

    action: Annotated[Line, Field(min_length=1, max_length=16)]
    by: FilePerson
    at: When
    body: MultiLine
    label: Label
    key_event: bool
    correction: Correction | None


class FileEntry(FileModel):
    """An entry as stored: a retracted one keeps its body here (readers are sent an empty one)."""

    id: Id
    author: FilePerson
    body: Body
    label: Label
    created_at: When
    edited_at: When | None
    key_event: bool
    pinned: bool
    retracted: bool
    correction: Correction | None
    photos: list[FilePhoto] | None = None
    cards: list[FileCard] | None = None  # its link cards, as made when it was posted or edited
    history: list[FileRevision]


class FileSubmission(FileModel):
    """A contributor's post, pending or decided; ``entry_id``: the entry its approval made (an id in ``entries``)."""

    id: Id
    author: FilePerson
    body: Body
    label: Label
    key_event: bool
    created_at: When
    status: Literal["pending", "approved", "rejected"]
    decided_by: Byline | None
    decided_at: When | None
    reason: Correction | None
    entry_id: Id | None
    photos: list[FilePhoto] | None = None


class EventIncident(FileModel):
    """The incident as an event told readers (ticker.store.views.incident_view)."""

    slug: Slug
    title: Title
    summary: Text
    status: Status
    category: Category
    location: Location
    photo_url: Url | None
    photo_credit: Credit | None
    photo: FilePhoto | None = Field(default=None, description="Left out when it has none.")
    epoch: Epoch = Field(description="Where the history began; an import starts a new one.")
    created_at: When
    updated_at: When
    closed_at: When | None

    @model_serializer(mode="wrap")
    def _as_sent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """As readers were sent it: ``photo`` only when it has one."""
        sent: dict[str, Any] = handler(self)
        if sent["photo"] is None:
            del sent["photo"]
        return sent


class FileIncident(EventIncident):
    """The incident as stored (with ``photo`` when it has one), and where its history is."""

    seq: Seq = Field(description="The last event's seq.")


class EventEntry(FileModel):
    """An entry as an event told readers (ticker.store.views.entry_view): a retracted one's body is empty."""

    id: Id
    incident: Slug
    author: Byline
    body: MultiLine
    label: Label
    created_at: When
    edited_at: When | None
    key_event: bool
    pinned: bool
    retracted: bool
    correction: Correction | None
    withdrawn: bool | None = Field(default=None, description="Left out in events sent before entries had it.")
    photos: list[FilePhoto] = Field(default_factory=list, description="Left out when it has none.")
    cards: list[FileCard] = Field(default_factory=list, description="Left out when it has none.")

    @model_serializer(mode="wrap")
    def _as_sent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """As readers were sent it: ``photos`` and ``cards`` only when it has some, ``withdrawn`` when it was sent."""
        sent: dict[str, Any] = handler(self)
        if sent["withdrawn"] is None:
            del sent["withdrawn"]
        for name in ("photos", "cards"):
            if not sent[name]:
                del sent[name]
        return sent


class FileEventData(FileModel):
    """An entry event's entry, or an incident event's incident."""

    entry: EventEntry | None = None
    incident: EventIncident | None = None

    @model_serializer(mode="wrap")
    def _as_sent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """As readers were sent it: the one it carries, without the other as null."""
        return {k: v for k, v in handler(self).items() if v is not None}


class FileEvent(FileModel):
    seq: Seq
    event: Annotated[EventType, Field(strict=False)]  # its name, as the wire has it
    committed_at: When
    data: FileEventData


class FileMedia(FileModel):
    """A file the incident shows but does not hold (its hot-linked lead photo, an uploaded photo, a link card's
    picture): an import keeps the reference, not a copy; the files move with the media storage (docs/deploy.md)."""

    kind: Literal["lead_photo", "photo", "card_thumbnail"]
    url: Annotated[Line, Field(max_length=500, pattern=r"^(?:https?://|/media/)\S+$")]
    credit: Credit | None


class IncidentFile(FileModel):
    """An incident exported, or to import (docs/deploy.md, "Moving and taking down an incident")."""

    ticker_incident: Literal[1] = Field(description="The file format's version.")
    exported_at: When
    incident: FileIncident
    media: list[FileMedia]
    entries: list[FileEntry] = Field(description="Oldest first.")
    submissions: list[FileSubmission]
    events: list[FileEvent] = Field(description="Every event, in seq order from 1.")


def check(file: IncidentFile) -> None:
    """What the fields cannot say each on their own; Invalid names the first problem."""
    seq = file.incident.seq
    for n, event in enumerate(file.events):
        if event.seq != n + 1:
            raise Refused.invalid(
                f"events.{n}.seq", f"events.{n}.seq: {event.seq}, but the events go 1, 2, 3 … without gaps"
            )
    if len(file.events) != seq:
        raise Refused.invalid("events", f"events: {len(file.events)} of them, but the incident's seq is {seq}")
    ids = Counter(e.id for e in file.entries)
    if (twice := next((i for i, n in ids.items() if n > 1), None)) is not None:
        raise Refused.invalid("entries", f"entries: the id {twice} is there twice")
    if len({s.id for s in file.submissions}) < len(file.submissions):
        raise Refused.invalid("submissions", "submissions: an id is there twice")
    if sum(e.pinned for e in file.entries) > 1:
        raise Refused.invalid("entries", "entries: at most one entry is pinned")
    for n, event in enumerate(file.events):
        _check_event(n, event, ids)
    for n, submission in enumerate(file.submissions):
        if submission.entry_id is not None and submission.entry_id not in ids:
            raise Refused.invalid(
                f"submissions.{n}.entry_id", f"submissions.{n}.entry_id: no entry {submission.entry_id}"
            )


def _check_event(n: int, event: FileEvent, ids: Counter[int]) -> None:
    field = f"events.{n}.data"
    about_entry = event.event.startswith("entry.")
    data = event.data
    if (data.entry is not None) != about_entry or (data.incident is not None) == about_entry:
        kind = "an entry" if about_entry else "an incident"
        raise Refused.invalid(field, f"{field}: a {event.event} event carries {kind}, and only that")
    if data.entry is not None and data.entry.id not in ids:
        raise Refused.invalid(f"{field}.entry.id", f"{field}.entry.id: no entry {data.entry.id} in entries")


_AT = "2026-05-07T20:40:00.250000Z"
_VIEW = {
    "slug": "storm-over-kusten",
    "title": "Storm över kusten",
    "summary": "",
    "status": "live",
    "category": "Väder",
    "location": "Göteborg",
    "photo_url": None,
    "photo_credit": None,
    "epoch": "q3J8xk2m",
    "created_at": "2026-05-07T20:37:00Z",
    "updated_at": "2026-05-07T20:37:00Z",
    "closed_at": None,
}
_ENTRY = {
    "author": {"user": "anna", "name": "Anna Svensson"},
    "body": "<p>Vinden har ökat till stormstyrka.</p>",
    "label": "22:40",
    "key_event": True,
    "correction": None,
}
# A small file: the API reference shows it, and the schema's fuzzing sends it.
EXAMPLE = {
    "ticker_incident": 1,
    "exported_at": "2026-05-07T21:00:00.000001Z",
    "incident": {
        **{k: v for k, v in _VIEW.items() if k != "updated_at"},
        "seq": 2,
        "created_at": "2026-05-07T20:37:00.120000Z",
        "updated_at": _AT,
    },
    "media": [],
    "entries": [
        {
            "id": 1,
            **_ENTRY,
            "created_at": _AT,
            "edited_at": None,
            "pinned": False,
            "retracted": False,
            "history": [
                {
                    "action": "posted",
                    "by": _ENTRY["author"],
                    "at": _AT,
                    **{k: _ENTRY[k] for k in ("body", "label", "key_event", "correction")},
                }
            ],
        }
    ],
    "submissions": [
        {
            "id": 1,
            "author": {"user": "cia", "name": "Cia Svensson"},
            "body": "<p>Brandbilar vid kajen.</p>",
            "label": "22:35",
            "key_event": False,
            "created_at": _AT,
            "status": "pending",
            "decided_by": None,
            "decided_at": None,
            "reason": None,
            "entry_id": None,
        }
    ],
    "events": [
        {
            "seq": 1,
            "event": "incident.updated",
            "committed_at": "2026-05-07T20:37:00.120000Z",
            "data": {"incident": _VIEW},
        },
        {
            "seq": 2,
            "event": "entry.posted",
            "committed_at": _AT,
            "data": {
                "entry": {
                    "id": 1,
                    "incident": "storm-over-kusten",
                    "author": "Anna Svensson",
                    **{k: _ENTRY[k] for k in ("body", "label", "key_event", "correction")},
                    "created_at": "2026-05-07T20:40:00Z",
                    "edited_at": None,
                    "pinned": False,
                    "retracted": False,
                }
            },
        },
    ],
}
