"""What the JSON API is, as data: its operations (method, path, who may, parameters, body, answers) and the
shapes of its answers. ticker.http.openapi turns it into the OpenAPI document.

Request bodies are the pydantic models the handlers validate with (ticker.http.api, partners, review), so the
document cannot promise a body the server refuses. Answers are the models below, closed objects (extra="forbid":
additionalProperties false), so a field added to a view without being documented here fails tests/test_openapi.py,
which holds a running node to them with schemathesis and fails for a route under /api that has no operation here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ticker import i18n
from ticker.config import Settings
from ticker.http import api, health, incident_file, json_body, partners, photos, review, sources
from ticker.http import tips as reader_tips
from ticker.http.embed import ORDERS, THEMES, EmbedOptions
from ticker.http.push import TOKEN as PUSH_TOKEN
from ticker.http.push import SubscriptionIn, UrgentIn
from ticker.roles import ROLES, RULES, Action
from ticker.store.partners import NAME as PARTNER_NAME
from ticker.textrules import MAX_INT, SLUG

EXAMPLE_SLUG = "brand-i-hamnen"
EXAMPLE_PARTNER = "gp"
REF = "#/components/schemas/{model}"

# Answers. Closed objects (extra="forbid" → additionalProperties: false), so a field added to a view without
# being documented here fails the schema test instead of slipping out unannounced.


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhotoFile(Answer):
    """One of a photo's variants: a file at a width, in a format."""

    url: str = Field(description="/media/<sha256>.<ext> on this site: immutable, the same on every node.")
    type: Literal["image/avif", "image/webp", "image/jpeg"]
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class Photo(Answer):
    """An uploaded photo as an entry or an incident carries it (ticker.media.photos): no metadata of the file
    is kept, only its pixels, upright, in sRGB, at TICKER_PHOTO_WIDTHS."""

    id: str = Field(pattern=r"^ph_[A-Za-z0-9_-]+$")
    alt: str = Field(description="What the photo shows, for those who cannot see it.")
    credit: str = Field(description='Who took it: shown as "Foto: …".')
    caption: str | None
    width: int = Field(ge=1, description="Of its largest variant; every variant has its aspect ratio.")
    height: int = Field(ge=1)
    src: str = Field(description="Its JPEG of about 1024 pixels wide, for an <img src> without srcset.")
    files: list[PhotoFile] = Field(description="Every variant: AVIF, WebP and JPEG, narrowest first within each.")


class PhotoWritten(Answer):
    photo: Photo


class Incident(Answer):
    """An incident as every reader sees it (ticker.store.views.incident_view)."""

    slug: str = Field(pattern=SLUG.pattern)
    title: str
    summary: str
    status: Literal["live", "closed"]
    category: str
    location: str
    photo_url: str | None = Field(description="A hot-linked photo (before uploads); `photo` wins over it.")
    photo_credit: str | None
    photo: Photo | None = Field(default=None, description="The lead photo, uploaded; left out when there is none.")
    epoch: str = Field(description="Changes when the incident's event history starts anew; readers resume by it.")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    closed_at: AwareDatetime | None


class ListedIncident(Incident):
    """An incident in a list, with its latest seq."""

    seq: int = Field(ge=0)


class CardPicture(Answer):
    url: str = Field(description="/media/<sha256>.jpg on this site: immutable.")
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class LinkCard(Answer):
    """A provider's link on a line of its own, made a static card when the entry was posted (docs/link-cards.md)."""

    url: str = Field(description="The link as the reporter wrote it; the body holds it as a paragraph of its own.")
    provider: Literal["youtube", "vimeo", "x", "instagram", "facebook", "tiktok", "bluesky", "mastodon"]
    provider_name: str = Field(description="The name readers know it by: 'Innehållet visas från YouTube'.")
    title: str = Field(description="Plain text: the title, or the post's own text (X, Bluesky).")
    author: str
    thumbnail: CardPicture | None = Field(description="The provider's picture, re-encoded and served from here.")
    player: str | None = Field(description="The player's address, framed only when the reader clicks the card.")


class CardNote(Answer):
    """A link that stayed a plain link (or a card without its picture), and why; the post itself stands."""

    url: str
    provider: str
    code: Literal["timeout", "refused", "unreachable", "status", "too_large", "bad_answer", "too_many", "thumbnail"]
    message: str


class Entry(Answer):
    """An entry of an incident (ticker.store.views.entry_view); a retracted entry's body is empty."""

    id: int
    incident: str = Field(description="The incident's slug.")
    author: str
    body: str = Field(description="Sanitised HTML.")
    label: str
    created_at: AwareDatetime
    edited_at: AwareDatetime | None
    key_event: bool
    pinned: bool
    retracted: bool
    correction: str | None
    withdrawn: bool = Field(description="Retracted without a correction: shown on no reader page and in no embed.")
    photos: list[Photo] = Field(default=[], description="Its photos in order; left out when it has none.")
    cards: list[LinkCard] = Field(default=[], description="Its link cards in order; left out when it has none.")


class Submission(Answer):
    """A contributor's entry waiting for an editor, or decided."""

    id: int
    incident: str
    author: str
    body: str
    label: str
    key_event: bool
    created_at: AwareDatetime
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None
    decided_at: AwareDatetime | None
    reason: str | None
    entry_id: int | None = Field(description="The entry an approval made.")
    photos: list[Photo] = Field(description="The photos its entry will carry.")


class Revision(Answer):
    """One change to an entry, and the entry as it stood after it."""

    action: str
    by: str
    at: AwareDatetime
    body: str
    label: str
    key_event: bool
    correction: str | None


class Partner(Answer):
    """A partner site that may embed incidents."""

    name: str = Field(pattern=PARTNER_NAME.pattern)
    origins: list[str]
    incidents: list[str] | None = Field(description="The slugs it may embed; null: every incident.")
    readers_now: int = Field(ge=0, description="Readers following through its embeds now, on every node.")


class ReaderDay(Answer):
    day: date
    opened: int
    peak: int


class IncidentList(Answer):
    incidents: list[ListedIncident]


class IncidentImported(Answer):
    incident: Incident
    slug: str = Field(pattern=SLUG.pattern)
    seq: int = Field(ge=1)
    epoch: str = Field(description="A new one: readers who held the old history get a snapshot.")
    entries: int = Field(ge=0)
    events: int = Field(ge=1)
    submissions: int = Field(ge=0)
    entry_ids: Literal["kept", "new"] = Field(
        description="kept: the file's (its permalinks work again); new: some were taken here, so all were renumbered "
        "in the same order."
    )


class Removed(Answer):
    """How many rows a takedown removed (all 0 when the incident was deleted already)."""

    entries: int = Field(ge=0)
    events: int = Field(ge=0)
    revisions: int = Field(ge=0)
    submissions: int = Field(ge=0)
    idempotency_keys: int = Field(ge=0)
    partner_incidents: int = Field(ge=0)
    push_subscriptions: int = Field(ge=0, description="Its Web Push followers.")
    push_alerts: int = Field(ge=0)


class IncidentDeleted(Answer):
    deleted: str = Field(pattern=SLUG.pattern)
    removed: Removed
    readers_told: int = Field(ge=0, description="Open pages on the node that took the request (others are told too).")


class IncidentWritten(Answer):
    incident: Incident
    seq: int = Field(ge=0, description="The seq of the event the change made.")


class Snapshot(Answer):
    incident: Incident
    seq: int = Field(ge=0)
    entries: list[Entry] = Field(description="The newest entries, newest first.")
    next: int | None = Field(description="Give it as `before` to GET …/entries for the older ones; null: no more.")


class EntryPage(Answer):
    entries: list[Entry]
    next: int | None


class EntryWritten(Answer):
    entry: Entry
    seq: int = Field(ge=0)
    card_notes: list[CardNote] = Field(
        default=[], description="Links of the body that stayed plain links, and why; left out when there are none."
    )


class SubmissionWritten(Answer):
    submission: Submission


class Approved(Answer):
    entry: Entry
    seq: int = Field(ge=0)
    submission: Submission
    card_notes: list[CardNote] = Field(default=[], description="As for a post: links that stayed plain links.")


class SubmissionList(Answer):
    submissions: list[Submission]


class History(Answer):
    history: list[Revision]


class PartnerList(Answer):
    partners: list[Partner]


class PartnerWritten(Answer):
    partner: Partner


class PartnerDetail(Answer):
    partner: Partner
    days: list[ReaderDay] = Field(description="Reader counts of the last 31 days with readers, newest first.")


class Snippets(Answer):
    script: str
    iframe: str
    resizer: str
    text: str


class FrontIncident(Answer):
    slug: str
    seq: int
    epoch: str
    card: str = Field(description="The front page's card for it, as HTML.")


class FrontIncidents(Answer):
    incidents: list[FrontIncident]


class EmbedState(Answer):
    incident: Incident
    seq: int
    entries: list[Entry]
    url: str
    base: str
    live: str = Field(description="The websocket URL to follow the incident on.")
    options: EmbedOptions  # ticker.http.embed's own dataclass, as the handler sends it (asdict)
    strings: dict[str, str]
    template: str
    extras: EmbedExtras


class EmbedExtras(Answer):
    """The ad slots and the support box (ticker.http.ads): for the partners TICKER_AD_PARTNERS names, else off."""

    ad_every: int = Field(ge=0, description="An ad slot after every this many entries; 0: none.")
    ad_src: str = Field(description="The ad server's slot page, framed with the sandbox below.")
    sandbox: str
    swish_number: str = Field(description="The support box's Swish number; empty: no box.")
    qr_src: str = Field(description="The QR code (SVG) of a Swish payment to that number.")
    qr_size: int = Field(ge=0)


class SourceOut(Answer):
    """A source of tips on the desk (the police's events, Krisinformation, …) and how its polling goes."""

    id: int
    name: str
    kind: str
    kind_title: str
    url: str
    interval_seconds: int
    effective_interval_seconds: int = Field(description="At least TICKER_SOURCES_MIN_INTERVAL_SECONDS.")
    places: list[str]
    types: list[str]
    enabled: bool
    items: int = Field(description="How many of its items are kept.")
    last_polled_at: AwareDatetime | None
    last_ok_at: AwareDatetime | None
    last_error: str | None = Field(description="In Swedish, for the desk; null since the last good answer.")
    last_error_at: AwareDatetime | None
    failures: int
    next_poll_at: AwareDatetime | None


class ItemSource(Answer):
    id: int
    name: str
    kind: str
    cited: str = Field(description="How an entry cites it.")


class SourceItemOut(Answer):
    """One item a source gave: an event, an alert, an article."""

    id: int
    source: ItemSource
    title: str
    summary: str
    url: str
    type: str
    place: str
    lat: float | None
    lng: float | None
    published_at: AwareDatetime | None
    first_seen_at: AwareDatetime
    changed_at: AwareDatetime | None
    revision: int
    version: int
    state: Literal["new", "watched", "dismissed"]
    state_by: str | None
    vma: bool = Field(description="An alert to the public (Viktigt meddelande till allmänheten).")
    incident: str | None = Field(description="The slug of the ticker started from it.")


class SourceList(Answer):
    sources: list[SourceOut]


class SourceWritten(Answer):
    source: SourceOut


class ItemList(Answer):
    items: list[SourceItemOut]


class ItemWritten(Answer):
    item: SourceItemOut


class TipOut(Answer):
    """A reader's tip or question as the desk's editors see it: contact details too, which are never public."""

    id: int
    incident: str | None = Field(description="The incident it was sent from; null: the front page.")
    incident_title: str | None
    kind: Literal["tip", "question"]
    body: str
    name: str
    may_name: bool = Field(description="The reader agreed to be named in an answer.")
    contact: str
    photo: str | None = Field(description="The photo's address (editors only), without its metadata.")
    created_at: AwareDatetime
    state: Literal["new", "answered", "discarded"]
    decided_by: str | None
    entry: int | None = Field(description="The answer's entry.")
    version: int


class TipList(Answer):
    tips: list[TipOut]


class TipWritten(Answer):
    tip: TipOut


class TipAnswered(EntryWritten):
    tip: int


class TickerStarted(Answer):
    incident: Incident
    entry: Entry
    seq: int
    item: int


class PushKey(Answer):
    public_key: str = Field(description="The VAPID public key (base64url), for pushManager.subscribe.")


class FollowedOut(Answer):
    incident: str
    token: str = Field(pattern=PUSH_TOKEN.pattern, description="Removes the subscription; in every alert's link too.")
    unsubscribe: str = Field(description="The page that ends the alerts (the link every alert carries).")


class Followed(Answer):
    subscription: FollowedOut


class FollowingOut(Answer):
    incident: str


class Following(Answer):
    subscription: FollowingOut


class AlertOut(Answer):
    """An alert to an incident's followers and how its deliveries went."""

    id: int
    kind: Literal["key_event", "closed", "urgent"]
    entry_id: int | None
    body: str
    state: Literal["queued", "sending", "held", "cancelled"] = Field(
        description="held: past TICKER_PUSH_ALERTS_PER_HOUR; cancelled: its entry retracted or the incident deleted."
    )
    created_at: AwareDatetime
    created_by: str | None = Field(description="The editor who sent it as urgent.")
    recipients: int
    sent: int
    gone: int = Field(description="Push services said the subscription is no more (404/410): it was removed.")
    failed: int
    pending: int


class AlertSummary(Answer):
    followers: int
    sent: int
    held: int
    alerts_per_hour: int
    alerts: list[AlertOut] = Field(description="The newest ten, newest first.")


class AlertSent(Answer):
    alert: AlertOut


class Health(BaseModel):
    """Open: the node adds its counters as it grows them."""

    status: Literal["ok", "degraded"]
    broker: str
    listening: bool
    relay_healthy: bool


REQUESTS: tuple[type[BaseModel], ...] = (
    api.IncidentIn,
    api.IncidentPatch,
    api.EntryIn,
    api.EntryPatch,
    api.RetractIn,
    json_body.Strict,
    photos.PhotoForm,
    review.RejectIn,
    partners.PartnerIn,
    partners.PartnerPatch,
    sources.SourceIn,
    sources.SourcePatch,
    sources.ItemStateIn,
    sources.TickerFromItem,
    reader_tips.AnswerIn,
    SubscriptionIn,
    UrgentIn,
    incident_file.IncidentFile,
)
# An example of each request body, for the reference page (and schemathesis mixes them into what it sends).
BODY_EXAMPLES: dict[str, dict[str, Any]] = {
    "IncidentIn": {
        "title": "Brand i hamnen",
        "summary": "Räddningstjänsten släcker en brand i ett lagerhus.",
        "category": "Brand",
        "location": "Göteborg",
    },
    "IncidentPatch": {"summary": "Branden är under kontroll.", "photo_url": None},
    "EntryIn": {"body": "Räddningstjänsten har <strong>fem enheter</strong> på plats.", "label": "23:10"},
    "EntryPatch": {"body": "Räddningstjänsten har sex enheter på plats.", "key_event": True},
    "RetractIn": {"correction": "Uppgiften om evakuering stämde inte."},
    "Strict": {},
    "PhotoForm": {"alt": "Rökpelare över hamnen, sedd från Älvsborgsbron.", "credit": "Anna Svensson"},
    "RejectIn": {"reason": "Uppgiften är inte bekräftad."},
    "PartnerIn": {"name": "kommunen", "origins": ["https://www.goteborg.se"], "incidents": [EXAMPLE_SLUG]},
    "PartnerPatch": {"origins": ["https://www.gp.se", "https://*.gp.se"], "allow_subdomains": True},
    "SourceIn": {
        "name": "Polisen Västra Götaland",
        "kind": "polisen",
        "url": "https://polisen.se/api/events",
        "places": ["Göteborg"],
    },
    "SourcePatch": {"interval_seconds": 300, "enabled": False},
    "ItemStateIn": {"state": "watched"},
    "SubscriptionIn": {
        "endpoint": "https://fcm.googleapis.com/fcm/send/dK3nVxP0aOM:APA91bH",
        "expirationTime": None,
        "keys": {
            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
            "auth": "tBHItJI5svbpez7KI4CCXg",
        },
        "lang": "sv",
    },
    "UrgentIn": {"entry": 1},
    "TickerFromItem": {
        "title": "Brand i hamnen",
        "location": "Göteborg",
        "entry": "Polisen rapporterar en brand i ett lagerhus i hamnen.",
        "source_url": "https://polisen.se/aktuellt/handelser/",
    },
    "IncidentFile": incident_file.EXAMPLE,
    "AnswerIn": {"answer": "Räddningstjänsten uppmanar alla att hålla fönstren stängda.", "with_name": True},
}
ANSWERS: tuple[type[BaseModel], ...] = (
    IncidentList,
    IncidentWritten,
    PhotoWritten,
    Snapshot,
    EntryPage,
    EntryWritten,
    SubmissionWritten,
    Approved,
    SubmissionList,
    History,
    PartnerList,
    PartnerWritten,
    PartnerDetail,
    Snippets,
    FrontIncidents,
    EmbedState,
    SourceList,
    SourceWritten,
    ItemList,
    ItemWritten,
    TickerStarted,
    TipList,
    TipWritten,
    TipAnswered,
    PushKey,
    Followed,
    Following,
    AlertSummary,
    AlertSent,
    IncidentImported,
    IncidentDeleted,
    Health,
)

# Errors: one shape (ticker.errors.Refused.body), and the codes each status carries (ticker.http.errors.STATUS).


@dataclass(frozen=True)
class Refusal:
    name: str  # of its response in the document's components
    when: str
    codes: tuple[str, ...] | None  # the `error` codes it may carry; None: not fixed here


REFUSALS: dict[int, Refusal] = {
    401: Refusal(
        "Unauthorized",
        "No valid bearer token or session (or the session has expired).",
        ("unauthorized", "session_expired"),
    ),
    403: Refusal(
        "Forbidden",
        "The account may not do this, or a session request failed the Origin or CSRF check.",
        ("forbidden", "csrf", "origin_not_allowed"),
    ),
    404: Refusal("NotFound", "No such incident, entry, submission or partner.", ("not_found",)),
    408: Refusal(
        "RequestTimeout",
        "The request's body did not arrive within TICKER_BODY_TIMEOUT_SECONDS (the connection is closed).",
        ("request_timeout",),
    ),
    409: Refusal(
        "Conflict", "The request conflicts with the current state (a slug taken, an incident closed, …).", ("conflict",)
    ),
    413: Refusal(
        "TooLarge",
        "The request body is over TICKER_MAX_BODY_BYTES (a photo's: TICKER_PHOTO_MAX_BYTES).",
        ("too_large",),
    ),
    415: Refusal("UnsupportedMediaType", "The request body is not application/json.", None),
    410: Refusal("Gone", "The incident was deleted (a takedown); its address stays gone.", ("gone",)),
    422: Refusal(
        "Invalid",
        "A body field, parameter or header is invalid, or the URL holds a control character; `field` names it. "
        "A photo that is not one we keep (POST /api/photos, `field`: file) has its own code: not a JPEG, PNG, WebP, "
        "HEIC/HEIF or GIF by its bytes (`unsupported_type`), not decodable to its end or carrying markup "
        "(`not_an_image`), more than TICKER_PHOTO_MAX_PIXELS pixels (`too_many_pixels`), or empty (`empty`).",
        ("invalid", "unsupported_type", "not_an_image", "too_many_pixels", "empty"),
    ),
    429: Refusal(
        "TooManyRequests",
        "More photo uploads in the last minute than TICKER_PHOTO_UPLOADS_PER_MINUTE allows this account.",
        ("too_many_uploads",),
    ),
    503: Refusal(
        "Unavailable",
        "Redis did not answer: nothing was imported, or (a takedown) the incident is deleted but the nodes were "
        "not all told: send the same request again. A photo upload: every photo worker is busy (`busy`); send it "
        "again in a few seconds.",
        ("unavailable", "busy"),
    ),
}


# Parameters.

SLUG_SCHEMA: dict[str, Any] = {"type": "string", "pattern": SLUG.pattern, "examples": [EXAMPLE_SLUG]}
SLUG_PARAM: dict[str, Any] = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "The incident's slug.",
    "schema": SLUG_SCHEMA,
}
PARTNER_PARAM: dict[str, Any] = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The partner's name.",
    "schema": {"type": "string", "pattern": PARTNER_NAME.pattern, "examples": [EXAMPLE_PARTNER]},
}
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key (per account) answers with the first result and writes nothing new; "
    "the same key on a different request is refused with 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
CONDITIONAL: list[dict[str, Any]] = [
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An ETag from an earlier answer: 304 when it is still current.",
        "schema": {"type": "string"},
    },
    {
        "name": "If-Modified-Since",
        "in": "header",
        "required": False,
        "description": "304 when nothing changed since (If-None-Match wins when both are given).",
        "schema": {"type": "string"},
    },
]
CACHE_HEADERS: dict[str, Any] = {
    "ETag": {"description": "A weak validator for If-None-Match.", "schema": {"type": "string"}},
    "Last-Modified": {"description": "For If-Modified-Since.", "schema": {"type": "string"}},
}


def id_param(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s numeric id.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    }


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


# Operations.

Auth = Literal["public", "account"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    tag: str
    summary: str
    answer: type[BaseModel] | None  # the success body; None: none (204) or not JSON
    auth: Auth = "public"  # "account": any account may
    may: tuple[Action, ...] = ()  # the actions of ticker.roles it takes (an account whose role has one of them)
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    parameters: list[dict[str, Any]] = field(default_factory=list)  # the query's and headers' (the path's: below)
    errors: tuple[int, ...] = ()  # besides those that follow from auth, parameters and body
    idempotent: bool = False  # takes Idempotency-Key (every write through ticker.http.idempotency.run_write)
    also: dict[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)  # other successes
    description: str = ""
    media_type: str = "application/json"
    body_type: str = "application/json"  # multipart/form-data: a form with a file (a photo)

    @property
    def all_parameters(self) -> list[dict[str, Any]]:
        """The path's parameters, as the path names them (PATH_PARAMETERS), then ``parameters``."""
        return [*(PATH_PARAMETERS[name] for name in re.findall(r"{(\w+)}", self.path)), *self.parameters]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def needs_account(self) -> bool:
        return self.auth == "account" or bool(self.may)

    @property
    def roles(self) -> list[str]:
        """The roles that may, from the table in ticker.roles (so the document follows it)."""
        return [role for role in ROLES if any(role in RULES[action] for action in self.may)]


INCIDENT = "/api/incidents/{slug}"
ENTRY = INCIDENT + "/entries/{entry_id}"
SUBMISSION = INCIDENT + "/submissions/{submission_id}"
PARTNER = "/api/partners/{name}"
ENTRY_ID = id_param("entry_id", "entry")
ITEM = "/api/sources/items/{item_id}"
ITEM_ID = id_param("item_id", "item")
SOURCE_ID = id_param("source_id", "source")
TIP = "/api/tips/{tip_id}"
TIP_ID = id_param("tip_id", "tip")
PUSH_TOKEN_PARAM: dict[str, Any] = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The unsubscribe token the subscription was given.",
    "schema": {"type": "string", "pattern": PUSH_TOKEN.pattern},
}
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "slug": SLUG_PARAM,
    "entry_id": ENTRY_ID,
    "submission_id": id_param("submission_id", "submission"),
    "name": PARTNER_PARAM,
    "source_id": SOURCE_ID,
    "item_id": ITEM_ID,
    "tip_id": TIP_ID,
    "token": PUSH_TOKEN_PARAM,
}
NOT_MODIFIED: dict[int, tuple[str, type[BaseModel] | None]] = {304: ("Not modified since the ETag given.", None)}


def state_change(
    path: str, tag: str, summary: str, answer: type[BaseModel], *may: Action, body: type[BaseModel] = json_body.Strict
) -> Operation:
    """A POST that moves a thing to another state (close, pin, approve …): its body may be left out, it takes
    Idempotency-Key, and 409 says the thing's state does not allow it."""
    return Operation(
        "POST", path, tag, summary, answer, may=may, body=body, body_required=False, idempotent=True, errors=(409,)
    )


def removal(path: str, tag: str, summary: str, *may: Action) -> Operation:
    """A DELETE that answers 204 with no body."""
    return Operation("DELETE", path, tag, summary, None, may=may, status=204)


def operations(settings: Settings) -> list[Operation]:
    """Every operation the API answers, in the reference page's order."""
    incidents, entries, newsroom, partner, tips = "Incidents", "Entries", "Newsroom", "Partners", "Sources"
    readers_tips = "Readers' tips"
    reader, meta = "Readers", "About the API"
    return [
        Operation(
            "GET",
            "/api/incidents",
            incidents,
            "Incidents, most recently updated first",
            IncidentList,
            parameters=[query("status", {"type": "string", "enum": ["live", "closed"]}, "Only live or closed.")],
        ),
        Operation(
            "POST",
            "/api/incidents",
            incidents,
            "Open an incident",
            IncidentWritten,
            may=(Action.OPEN_INCIDENT,),
            status=201,
            body=api.IncidentIn,
            idempotent=True,
            errors=(409,),
            description="Without `slug`, one is made from the title (`-2`, `-3` … when taken).",
        ),
        Operation(
            "GET",
            INCIDENT,
            incidents,
            "The incident, its seq and its newest 50 entries",
            Snapshot,
            parameters=list(CONDITIONAL),
            also=NOT_MODIFIED,
        ),
        Operation(
            "PATCH",
            INCIDENT,
            incidents,
            "Change an incident's fields",
            IncidentWritten,
            may=(Action.EDIT_INCIDENT,),
            body=api.IncidentPatch,
            idempotent=True,
        ),
        state_change(INCIDENT + "/close", incidents, "Close an incident", IncidentWritten, Action.CLOSE_INCIDENT),
        state_change(
            INCIDENT + "/reopen", incidents, "Reopen a closed incident", IncidentWritten, Action.REOPEN_INCIDENT
        ),
        Operation(
            "GET",
            INCIDENT + "/export",
            incidents,
            "The incident as a file: its entries with their history, submissions, media and events",
            incident_file.IncidentFile,
            may=(Action.EXPORT_INCIDENT,),
            description="What `POST /api/incidents/import` takes back (`ticker incident export` writes the same).",
        ),
        Operation(
            "POST",
            "/api/incidents/import",
            incidents,
            "Import an incident from an exported file",
            IncidentImported,
            may=(Action.IMPORT_INCIDENT,),
            status=201,
            body=incident_file.IncidentFile,
            parameters=[
                query("slug", SLUG_SCHEMA, "Import at this address instead of the file's."),
                query(
                    "restore",
                    {"type": "boolean", "default": False},
                    "Take the address of a deleted incident (delete_incident: admins).",
                ),
            ],
            errors=(409, 503),
            description="An address in use is refused (409): sending a file twice imports it once. Entries, their "
            "history, events (seqs, times, order), pins and retractions come back as they were, with a new epoch; "
            "authors are the accounts of the same login here, else the importer (bylines are kept). The body may "
            f"be up to {settings.import_max_bytes} bytes (TICKER_IMPORT_MAX_BYTES).",
        ),
        Operation(
            "DELETE",
            INCIDENT,
            incidents,
            "Delete an incident and everything it holds (a takedown)",
            IncidentDeleted,
            may=(Action.DELETE_INCIDENT,),
            errors=(503,),
            description="Its entries, their history, events, submissions, partners' rows and stored answers go; open "
            "pages on every node are told (`deleted`, then close code 4101); its addresses answer 410 from then on "
            "and it is not given to a new incident. Deleting it again answers 200 with nothing removed.",
        ),
        Operation(
            "GET",
            INCIDENT + "/entries",
            entries,
            "More entries: older, newest first, or (after) newer, oldest first",
            EntryPage,
            parameters=[
                query("before", {"type": "integer", "minimum": 0, "maximum": MAX_INT}, "Entries older than this id."),
                query(
                    "after",
                    {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                    "Entries newer than this id, oldest first (the reader page's Äldst först); not with before.",
                ),
                query("key_events", {"type": "integer", "enum": [0, 1]}, "1: key events only (Bara viktigaste)."),
                query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": api.MAX_PAGE, "default": api.PAGE},
                    "How many.",
                ),
            ],
        ),
        Operation(
            "POST",
            INCIDENT + "/entries",
            entries,
            "Post an entry",
            EntryWritten,
            may=(Action.POST_ENTRY, Action.SUBMIT_ENTRY),
            status=201,
            body=api.EntryIn,
            idempotent=True,
            errors=(409,),
            also={202: ("A contributor's entry, kept for an editor to approve.", SubmissionWritten)},
            description="`body` is plain text or a small safe HTML subset (a provider's link on a line of its own "
            "becomes a link card, docs/link-cards.md; `card_notes` says which stayed plain links and why); "
            "`label` defaults to the time now "
            "(Europe/Stockholm). A contributor's entry waits for an editor (202); `pinned` needs pin_entry (403). "
            f"`photos`: up to {settings.photo_max_per_entry} photos uploaded with `POST /api/photos` "
            "(TICKER_PHOTO_MAX_PER_ENTRY), by id; alt text, credit or caption given here replace the upload's.",
        ),
        Operation(
            "POST",
            photos.UPLOAD_PATH,
            entries,
            "Upload a photo for an entry or an incident",
            PhotoWritten,
            may=photos.UPLOADERS,
            status=201,
            body=photos.PhotoForm,
            body_type="multipart/form-data",
            idempotent=True,
            errors=(429, 503),
            description="The photo is decoded to prove it is one, turned upright, stripped of every metadata block "
            "(EXIF with GPS, XMP, IPTC, ICC: converted to sRGB) and kept as variants in AVIF, WebP and JPEG at "
            f"TICKER_PHOTO_WIDTHS ({settings.photo_widths}), served immutable at their `url` by every node. At most "
            f"{settings.photo_max_bytes} bytes (TICKER_PHOTO_MAX_BYTES), {settings.photo_max_pixels} pixels "
            f"(TICKER_PHOTO_MAX_PIXELS) and {settings.photo_uploads_per_minute} uploads a minute per account "
            "(TICKER_PHOTO_UPLOADS_PER_MINUTE). Then name it in an entry's `photos` or an incident's `photo`.",
        ),
        Operation(
            "PATCH",
            ENTRY,
            entries,
            "Edit an entry",
            EntryWritten,
            may=(Action.CHANGE_OWN_ENTRY, Action.CHANGE_ANY_ENTRY),
            body=api.EntryPatch,
            idempotent=True,
            errors=(409,),
            description="change_own_entry for one's own entries, change_any_entry for anyone's. A new `body` makes "
            "cards for its new provider links and keeps the others' (`card_notes` as for a post).",
        ),
        state_change(
            ENTRY + "/retract",
            entries,
            "Retract an entry, with an optional correction",
            EntryWritten,
            Action.CHANGE_OWN_ENTRY,
            Action.CHANGE_ANY_ENTRY,
            body=api.RetractIn,
        ),
        state_change(
            ENTRY + "/pin",
            entries,
            "Pin an entry (one per incident: the one pinned before is unpinned)",
            EntryWritten,
            Action.PIN_ENTRY,
        ),
        state_change(ENTRY + "/unpin", entries, "Unpin an entry", EntryWritten, Action.PIN_ENTRY),
        Operation(
            "GET",
            ENTRY + "/history",
            newsroom,
            "An entry's revisions, oldest first",
            History,
            auth="account",
        ),
        Operation(
            "GET",
            INCIDENT + "/submissions",
            newsroom,
            "Submissions: every pending one for editors, their own (decided too) for others",
            SubmissionList,
            auth="account",
        ),
        state_change(
            SUBMISSION + "/approve",
            newsroom,
            "Approve a submission: it is posted as an entry",
            Approved,
            Action.REVIEW_SUBMISSIONS,
        ),
        state_change(
            SUBMISSION + "/reject",
            newsroom,
            "Reject a submission, with an optional reason its author sees",
            SubmissionWritten,
            Action.REVIEW_SUBMISSIONS,
            body=review.RejectIn,
        ),
        Operation("GET", "/api/partners", partner, "Partner sites", PartnerList, may=(Action.MANAGE_PARTNERS,)),
        Operation(
            "POST",
            "/api/partners",
            partner,
            "Register a partner site",
            PartnerWritten,
            may=(Action.MANAGE_PARTNERS,),
            status=201,
            body=partners.PartnerIn,
            errors=(409,),
            description="`origins` like `https://www.gp.se` (or `https://*.gp.se` with `allow_subdomains`); "
            "`incidents`: the slugs it may embed, or null for every incident.",
        ),
        Operation(
            "GET",
            PARTNER,
            partner,
            "A partner and its reader counts by day",
            PartnerDetail,
            may=(Action.MANAGE_PARTNERS,),
        ),
        Operation(
            "PATCH",
            PARTNER,
            partner,
            "Change a partner's origins or incidents",
            PartnerWritten,
            may=(Action.MANAGE_PARTNERS,),
            body=partners.PartnerPatch,
            errors=(409,),
        ),
        removal(
            PARTNER,
            partner,
            "Remove a partner: its embeds' live connections are closed (4100, do not reconnect)",
            Action.MANAGE_PARTNERS,
        ),
        Operation(
            "GET",
            PARTNER + "/snippet",
            partner,
            "The HTML a partner pastes to embed an incident",
            Snippets,
            may=(Action.MANAGE_PARTNERS,),
            parameters=[
                query("incident", SLUG_SCHEMA, "The incident's slug.", True),
            ],
            errors=(410,),
        ),
        Operation(
            "GET", "/api/sources", tips, "Sources of tips, with how their polling goes", SourceList, auth="account"
        ),
        Operation(
            "POST",
            "/api/sources",
            tips,
            "Add a source (polled from then on)",
            SourceWritten,
            may=(Action.MANAGE_SOURCES,),
            status=201,
            body=sources.SourceIn,
            errors=(409,),
            description="At most TICKER_SOURCES_MAX sources; a name is taken once.",
        ),
        Operation(
            "PATCH",
            "/api/sources/{source_id}",
            tips,
            "Change a source",
            SourceWritten,
            may=(Action.MANAGE_SOURCES,),
            body=sources.SourcePatch,
            errors=(409,),
        ),
        removal("/api/sources/{source_id}", tips, "Remove a source and its items", Action.MANAGE_SOURCES),
        Operation(
            "GET", "/api/sources/items", tips, "The newest items that are not dismissed", ItemList, auth="account"
        ),
        Operation(
            "POST",
            ITEM + "/state",
            tips,
            "Mark an item new, watched or dismissed",
            ItemWritten,
            may=(Action.ACT_ON_SOURCE_ITEMS,),
            body=sources.ItemStateIn,
        ),
        Operation(
            "POST",
            ITEM + "/ticker",
            tips,
            "Start a ticker from an item: the incident and its first entry",
            TickerStarted,
            may=(Action.ACT_ON_SOURCE_ITEMS,),
            status=201,
            body=sources.TickerFromItem,
            idempotent=True,
            errors=(409,),
            description="With `source_url`, the entry ends with a link to the source. Once per item (409 after).",
        ),
        Operation("GET", "/api/tips", readers_tips, "The open tips, newest first", TipList, may=(Action.HANDLE_TIPS,)),
        Operation(
            "POST",
            TIP + "/answer",
            readers_tips,
            "Answer a tip or question as an entry",
            TipAnswered,
            may=(Action.HANDLE_TIPS,),
            status=201,
            body=reader_tips.AnswerIn,
            idempotent=True,
            errors=(409,),
            description='The entry reads "Fråga från en läsare: … Svar: …", naming the reader only where they '
            "agreed and `with_name` asks; a tip from the front page needs `incident`. Once per tip (409 after).",
        ),
        Operation(
            "POST",
            TIP + "/discard",
            readers_tips,
            "Dismiss a tip",
            TipWritten,
            may=(Action.HANDLE_TIPS,),
            body=json_body.Strict,
            errors=(409,),
        ),
        removal(
            TIP, readers_tips, "Delete a tip and everything the reader sent (on their request)", Action.HANDLE_TIPS
        ),
        Operation(
            "GET",
            TIP + "/photo",
            readers_tips,
            "The photo a reader sent, decoded and encoded afresh (no metadata)",
            None,
            may=(Action.HANDLE_TIPS,),
            media_type="image/jpeg",
        ),
        Operation(
            "GET",
            "/api/front",
            reader,
            "The front page's live incidents, with their cards",
            FrontIncidents,
            parameters=list(CONDITIONAL),
            also=NOT_MODIFIED,
        ),
        Operation(
            "GET",
            "/api/embed/{slug}",
            reader,
            "What an embed needs to draw an incident and follow it",
            EmbedState,
            parameters=embed_parameters(settings),
            errors=(403,),
            description="CORS: answered with Access-Control-Allow-Origin to the origins of partners that cover "
            "the incident only; other origins get 403. Unknown options are refused with 422.",
        ),
        Operation(
            "GET",
            "/healthz",
            meta,
            "Node health",
            Health,
            also={503: ("Degraded: the broker listener or the relay is down (the same body).", Health)},
        ),
        Operation(
            "GET",
            "/livez",
            meta,
            "Liveness: the process answers",
            health.Live,
            description="Depends on nothing outside the process (neither SQL nor Redis): for a liveness probe.",
        ),
        Operation(
            "GET",
            "/readyz",
            meta,
            "Readiness: SQL, and Redis when configured, answer",
            health.Ready,
            also={503: ("Not ready: `checks` says which dependency failed, or the node is stopping.", health.Ready)},
            description="For a readiness probe or a balancer: each dependency is asked now, within "
            f"TICKER_READY_TIMEOUT_SECONDS ({settings.ready_timeout_seconds:g} s).",
        ),
        *push_operations(),
        Operation("GET", "/api/openapi.json", meta, "This document", None),
        Operation("GET", "/api/docs", meta, "The API reference page", None, media_type="text/html"),
    ]


def push_operations() -> list[Operation]:
    """Web Push ("Bevaka"): readers follow an incident without an account; editors see and send alerts."""
    reader, newsroom = "Readers", "Newsroom"
    return [
        Operation("GET", "/api/push/key", reader, "The VAPID public key browsers subscribe with", PushKey),
        Operation(
            "POST",
            INCIDENT + "/subscriptions",
            reader,
            "Follow an incident with Web Push (no account, no cookie)",
            Followed,
            status=201,
            body=SubscriptionIn,
            errors=(409,),
            description="The body is the browser's `PushSubscription.toJSON()` and the reader's language. `endpoint` "
            "must be https on a host among TICKER_PUSH_SERVICES, `keys.p256dh` a P-256 point and `keys.auth` 16 "
            "bytes (422 naming the field otherwise). The same browser again gets the same token. 409: the incident "
            "is closed, or has TICKER_PUSH_MAX_SUBSCRIPTIONS followers.",
        ),
        Operation(
            "GET",
            "/api/push/subscriptions/{token}",
            reader,
            "Whether a subscription is still kept",
            Following,
            errors=(404,),
        ),
        Operation(
            "DELETE",
            "/api/push/subscriptions/{token}",
            reader,
            "Stop following: the subscription is removed",
            None,
            status=204,
            errors=(404,),
        ),
        Operation(
            "GET",
            INCIDENT + "/alerts",
            newsroom,
            "Followers of an incident and its alerts",
            AlertSummary,
            auth="account",
        ),
        Operation(
            "POST",
            INCIDENT + "/alerts",
            newsroom,
            "Send an entry to the incident's followers as an urgent alert",
            AlertSent,
            may=(Action.SEND_URGENT_ALERT,),
            status=201,
            body=UrgentIn,
            errors=(409,),
            description="Sent even past TICKER_PUSH_ALERTS_PER_HOUR, at Urgency high; once per entry (409 after, "
            "and for a retracted entry).",
        ),
    ]


def embed_parameters(settings: Settings) -> list[dict[str, Any]]:
    flag = {"type": "boolean"}
    entries = {"type": "integer", "minimum": 1, "maximum": settings.embed_max_entries}
    return [
        query("entries", entries, "How many entries (at most TICKER_EMBED_MAX_ENTRIES)."),
        query("theme", {"type": "string", "enum": list(THEMES)}, "Colours."),
        query("accent", {"type": "string", "pattern": "^#(?:[0-9a-fA-F]{3}){1,2}$"}, "An accent colour, #rgb."),
        query("compact", flag, "Smaller type and spacing."),
        query("link", flag, "A link to the full story."),
        query("lang", {"type": "string", "enum": list(i18n.LANGUAGES)}, "The embed's language."),
        query("key_events", flag, "Key events (and the pinned entry) only: the reader page's Bara viktigaste."),
        query("order", {"type": "string", "enum": list(ORDERS)}, "oldest: the newest entries, oldest first."),
        query("partner", {"type": "string"}, "The partner whose page this is (counts its readers)."),
        {
            "name": "Origin",
            "in": "header",
            "required": False,
            "description": "Sent by browsers: our own origin, or a partner's that covers the incident.",
            "schema": {"type": "string"},
        },
    ]
