"""Photos over HTTP: ``POST /api/photos`` (an upload: the file and its texts, as multipart/form-data) and
``GET /media/{name}`` (a variant's file, immutable, from any node).

An upload is checked before a byte is decoded where it can be: who asks (anyone who may post, submit or edit an
incident), the body's size (ticker.http.limits, ``photo_max_bytes`` for this path), the Content-Type, the texts
(alt text and credit are required), the user's uploads in the last minute; then the file goes through the
pipeline in a worker (ticker.media.pool) and, only if it passes, into storage. A retry with the same
Idempotency-Key is answered from the stored result before the file is processed again: the desk's field mode
sends a photo again after a reload mid-upload and gets the same photo back.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.config import Settings
from ticker.errors import Refused
from ticker.http.auth import require_account
from ticker.http.idempotency import idempotency_key
from ticker.http.json_body import unsupported_media_type
from ticker.http.node import node
from ticker.media.photos import Captions, upload_fingerprint
from ticker.media.storage import NAME
from ticker.roles import Action, refusal
from ticker.store.audit import Actor
from ticker.store.sql import Idempotency

UPLOAD_PATH = "/api/photos"
FORM_OVERHEAD = 64 * 1024  # the multipart framing and the texts beside the file, on top of photo_max_bytes
IMMUTABLE = "public, max-age=31536000, immutable"
UPLOADERS = (Action.POST_ENTRY, Action.SUBMIT_ENTRY, Action.EDIT_INCIDENT)


# POST /api/photos' form as the OpenAPI document shows it. ``upload`` checks each field itself, by the same rules:
# the texts with ticker.media.photos.Captions, the file with the pipeline.
class PhotoForm(BaseModel):
    """A photo and what is said of it, as a form (multipart/form-data)."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(
        description="The photo: JPEG, PNG, WebP, HEIC/HEIF or GIF, by its bytes (its name and type are not asked). "
        "At most TICKER_PHOTO_MAX_BYTES bytes and TICKER_PHOTO_MAX_PIXELS pixels."
    )
    alt: str = Field(min_length=1, description='What it shows, for those who cannot see it ("Bildbeskrivning").')
    credit: str = Field(min_length=1, description='Who took it ("Foto: …").')
    caption: str = Field(default="", description="A caption under it (none when left out or empty).")


def body_limit(settings: Settings) -> int:
    """The most an upload's body may be (ticker.http.limits answers 413 for ``body`` past it). Twice the photo's
    bound: a file over TICKER_PHOTO_MAX_BYTES but not far over reaches the pipeline, whose 413 names ``file``."""
    return 2 * settings.photo_max_bytes + FORM_OVERHEAD


async def upload(request: Request) -> JSONResponse:
    account = await require_account(request)
    if not any(account.may(action) for action in UPLOADERS):
        raise Refused.forbidden(refusal(account.role, Action.POST_ENTRY))
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise unsupported_media_type("send the photo as multipart/form-data: file, alt, credit and caption")
    settings = node(request).settings
    try:
        form = await request.form(max_files=1, max_fields=3, max_part_size=4 * settings.photo_text_max_chars + 1024)
    except (HTTPException, ValueError) as exc:  # starlette's 400 for a malformed form, or one with too many parts
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        raise Refused.invalid("body", f"body: not a form this upload takes ({detail})") from None
    try:
        texts: dict[str, str | None] = {}
        for name in ("alt", "credit", "caption"):
            value = form.get(name)
            if value is not None and not isinstance(value, str):
                raise Refused.invalid(name, f"{name}: a text, not a file")
            texts[name] = value
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise Refused.invalid("file", "file: the photo is missing (a form field named file)")
        captions = Captions.checked(texts["alt"], texts["credit"], texts["caption"], settings.photo_text_max_chars)
        data = await file.read(settings.photo_max_bytes + 1)
    finally:
        await form.close()
    key = idempotency_key(request)
    idem = None
    if key:  # hashing megabytes is work for a thread, not for the loop that fans out
        idem = Idempotency(account.id, key, await asyncio.to_thread(upload_fingerprint, UPLOAD_PATH, data, captions))
    store = node(request).store
    if idem is not None and (replay := await store.replayed(idem)) is not None:
        return JSONResponse(replay.body, status_code=replay.status)
    result = await node(request).photos.upload(data, captions, by=account.id, idem=idem, actor=Actor.of(account))
    return JSONResponse(result.body, status_code=result.status)


async def media_file(request: Request) -> Response:
    name = request.path_params["name"]
    if not NAME.match(name):
        raise Refused.not_found("file")
    etag = '"' + name.split(".", 1)[0] + '"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    found = await node(request).photos.file(name)
    if found is None:
        raise Refused.not_found("file")
    return Response(found.data, media_type=found.content_type, headers=headers)


def routes() -> list[BaseRoute]:
    return [
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        Route("/media/{name}", media_file, methods=["GET", "HEAD"]),
    ]
