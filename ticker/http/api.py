"""The reporter API (JSON): thin handlers over ticker.store.writes. Reads are public, writes need a token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http import caching
from ticker.http.auth import require, require_account
from ticker.http.idempotency import idempotency, run_write
from ticker.http.json_body import (
    Category,
    Credit,
    Label,
    Location,
    Slug,
    Strict,
    Text,
    Title,
    Url,
    entry_body,
    now_label,
    parse_body,
)
from ticker.http.link_cards import cards_of, replayed, with_notes
from ticker.http.node import node
from ticker.http.params import flag, path_id, query_number
from ticker.media.cards import CardNote
from ticker.roles import Action, refusal
from ticker.store import reads
from ticker.store.views import entry_view, incident_view
from ticker.store.writes import (
    author_of,
    create_incident,
    edit_entry,
    pin_entry,
    post_entry,
    retract_entry,
    set_status,
    submit_entry,
    update_incident,
)
from ticker.textrules import Line, MultiLine, Name, slugify

PAGE = 50
MAX_PAGE = 200


class PhotoRef(Strict):
    """A photo uploaded with POST /api/photos, by its id; alt text, credit and caption given here take the place
    of the upload's for this entry or incident (ticker.media.photos.Photos.resolve checks them)."""

    nullable = frozenset({"caption"})  # no caption
    id: Annotated[Line, Field(pattern=r"^ph_[A-Za-z0-9_-]{8,40}$")]
    alt: Line | None = None
    credit: Name | None = None
    caption: MultiLine | None = None


class IncidentIn(Strict):
    nullable = frozenset({"slug", "photo_url", "photo_credit", "photo"})  # made from the title; no photo; no credit
    title: Title
    slug: Slug | None = None
    summary: Text = ""
    category: Category = ""
    location: Location = ""
    photo_url: Url | None = None  # a hot-linked photo, as before uploads (kept for existing data and clients)
    photo_credit: Credit | None = None
    photo: PhotoRef | None = None  # the lead photo, uploaded: it takes the place of photo_url


class IncidentPatch(Strict):
    # Null empties the field (ticker.store.writes.update_incident); a title cannot be emptied.
    nullable = frozenset({"summary", "category", "location", "photo_url", "photo_credit", "photo"})
    title: Title | None = None
    summary: Text | None = None
    category: Category | None = None
    location: Location | None = None
    photo_url: Url | None = None
    photo_credit: Credit | None = None
    photo: PhotoRef | None = None


class EntryIn(Strict):
    nullable = frozenset({"label"})  # the time it is posted, as when left out
    body: MultiLine
    label: Label | None = None
    key_event: bool = False
    pinned: bool = False
    photos: list[PhotoRef] = []  # noqa: RUF012 (a pydantic field, copied per model) at most TICKER_PHOTO_MAX_PER_ENTRY


class EntryPatch(Strict):
    body: MultiLine | None = None
    label: Label | None = None
    key_event: bool | None = None
    photos: list[PhotoRef] | None = None  # the whole gallery as it is to be: adds, replaces and removes photos


class RetractIn(Strict):
    nullable = frozenset({"correction"})  # no correction note, as when left out
    correction: Annotated[MultiLine, Field(max_length=1000)] | None = None


async def resolve_photos(request: Request, refs: list[PhotoRef], field: str = "photos") -> list[dict[str, Any]]:
    """What an entry (or, as ``photo``, an incident) will carry of each uploaded photo it names: 422 naming the
    ref at fault for an unknown id, a missing alt text or credit, or too many photos."""
    return await node(request).photos.resolve([ref.model_dump(exclude_unset=True) for ref in refs], field)


# Handlers.


async def list_incidents(request: Request) -> JSONResponse:
    status = request.query_params.get("status")
    if status not in (None, "live", "closed"):
        raise Refused.invalid("status", "status must be 'live' or 'closed'")
    incidents = await node(request).store.incidents(status)
    return JSONResponse({"incidents": [{**incident_view(i), "seq": i.seq} for i in incidents]})


async def post_incident(request: Request) -> JSONResponse:
    account = await require(request, Action.OPEN_INCIDENT)
    data, raw = await parse_body(request, IncidentIn)
    fields = data.model_dump(exclude={"slug"})
    if data.photo is not None:
        fields["photo"] = (await resolve_photos(request, [data.photo], "photo"))[0]
    slug = data.slug or await _free_slug(request, slugify(data.title))
    return await run_write(request, create_incident(slug, fields), account, raw, status=201)


async def _free_slug(request: Request, base: str) -> str:
    taken = await node(request).store.slugs_starting(base)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def get_incident(request: Request) -> Response:
    store = node(request).store
    snapshot = await store.snapshot(request.path_params["slug"], limit=PAGE + 1)
    entries = snapshot["entries"]
    more = len(entries) > PAGE
    body = {**snapshot, "entries": entries[:PAGE], "next": entries[PAGE - 1]["id"] if more else None}
    tag, modified = caching.etag(snapshot["incident"]["epoch"], snapshot["seq"]), snapshot["incident"]["updated_at"]
    max_age = node(request).settings.cache_max_age
    return caching.conditional(request, JSONResponse(body), tag, datetime.fromisoformat(modified), max_age)


async def list_entries(request: Request) -> JSONResponse:
    store = node(request).store
    incident = await store.incident(request.path_params["slug"])
    before, after = query_number(request, "before"), query_number(request, "after")
    if before is not None and after is not None:
        raise Refused.invalid("after", "give before (older entries) or after (newer, oldest first), not both")
    limit = query_number(request, "limit", PAGE)
    if not 1 <= limit <= MAX_PAGE:
        raise Refused.invalid("limit", f"limit must be 1 to {MAX_PAGE}")
    key_only = flag(request.query_params, "key_events")
    entries = await reads.entries_page(store, incident, limit=limit + 1, before=before, after=after, key_only=key_only)
    page = entries[:limit]
    return JSONResponse(
        {
            "entries": [entry_view(e, incident.slug) for e in page],
            "next": page[-1].id if len(entries) > limit else None,
        }
    )


async def patch_incident(request: Request) -> JSONResponse:
    account = await require(request, Action.EDIT_INCIDENT)
    data, raw = await parse_body(request, IncidentPatch)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Refused.invalid("body", "nothing to change")
    if data.photo is not None:
        changes["photo"] = (await resolve_photos(request, [data.photo], "photo"))[0]
    return await run_write(request, update_incident(request.path_params["slug"], changes), account, raw)


def status_handler(status: str) -> Any:
    action = Action.CLOSE_INCIDENT if status == "closed" else Action.REOPEN_INCIDENT

    async def handler(request: Request) -> JSONResponse:
        account = await require(request, action)
        _data, raw = await parse_body(request, Strict)
        return await run_write(request, set_status(request.path_params["slug"], status), account, raw)

    return handler


async def post_entry_handler(request: Request) -> JSONResponse:
    account = await require_account(request)
    data, raw = await parse_body(request, EntryIn)
    settings = node(request).settings
    slug, author = request.path_params["slug"], author_of(account)
    body = entry_body(data.body, settings.max_entry_chars)
    label = data.label or now_label()
    photos = await resolve_photos(request, data.photos)
    if data.pinned and not account.may(Action.PIN_ENTRY):
        raise Refused.forbidden(refusal(account.role, Action.PIN_ENTRY), "pinned")
    if not account.may(Action.POST_ENTRY):
        if not account.may(Action.SUBMIT_ENTRY):
            raise Refused.forbidden(refusal(account.role, Action.SUBMIT_ENTRY))
        # Kept for an editor: 202, and no event until it is approved.
        op = submit_entry(slug, author, body, label, data.key_event, photos)
        return await run_write(request, op, account, raw, 202)
    # Cards are fetched before the write (ticker.media.cards), and not at all for a retry the store answers.
    if (replay := await replayed(request, idempotency(request, account, raw))) is not None:
        return replay
    made = await node(request).link_cards.make(body)
    op = post_entry(slug, author, made.body, label, data.key_event, data.pinned, made.cards, photos)
    return await run_write(request, with_notes(op, made.notes), account, raw, status=201)


async def patch_entry(request: Request) -> JSONResponse:
    account = await require_account(request)
    data, raw = await parse_body(request, EntryPatch)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Refused.invalid("body", "nothing to change")
    if data.photos is not None:
        changes["photos"] = await resolve_photos(request, data.photos)
    notes: list[CardNote] = []
    if "body" in changes:
        changes["body"] = entry_body(changes["body"], node(request).settings.max_entry_chars)
        if (replay := await replayed(request, idempotency(request, account, raw))) is not None:
            return replay
        slug, number = request.path_params["slug"], path_id(request, "entry_id")
        kept = await cards_of(node(request).store, slug, number)
        made = await node(request).link_cards.make(changes["body"], kept)
        changes["body"], changes["cards"], notes = made.body, made.cards, made.notes
    op = edit_entry(request.path_params["slug"], path_id(request, "entry_id"), changes, account)
    return await run_write(request, with_notes(op, notes), account, raw)


async def retract_entry_handler(request: Request) -> JSONResponse:
    account = await require_account(request)
    data, raw = await parse_body(request, RetractIn)
    op = retract_entry(request.path_params["slug"], path_id(request, "entry_id"), data.correction or None, account)
    return await run_write(request, op, account, raw)


def pin_handler(pinned: bool) -> Any:
    async def handler(request: Request) -> JSONResponse:
        account = await require(request, Action.PIN_ENTRY)
        _data, raw = await parse_body(request, Strict)
        by = author_of(account)
        op = pin_entry(request.path_params["slug"], path_id(request, "entry_id"), pinned, by)
        return await run_write(request, op, account, raw)

    return handler


def routes() -> list[BaseRoute]:
    entry = "/api/incidents/{slug}/entries/{entry_id}"
    return [
        Route("/api/incidents", list_incidents, methods=["GET"]),
        Route("/api/incidents", post_incident, methods=["POST"]),
        Route("/api/incidents/{slug}", get_incident, methods=["GET"]),
        Route("/api/incidents/{slug}", patch_incident, methods=["PATCH"]),
        Route("/api/incidents/{slug}/close", status_handler("closed"), methods=["POST"]),
        Route("/api/incidents/{slug}/reopen", status_handler("live"), methods=["POST"]),
        Route("/api/incidents/{slug}/entries", list_entries, methods=["GET"]),
        Route("/api/incidents/{slug}/entries", post_entry_handler, methods=["POST"]),
        Route(entry, patch_entry, methods=["PATCH"]),
        Route(entry + "/retract", retract_entry_handler, methods=["POST"]),
        Route(entry + "/pin", pin_handler(True), methods=["POST"]),
        Route(entry + "/unpin", pin_handler(False), methods=["POST"]),
    ]
