"""The node's photos: an upload through the pipeline into storage, the photos an entry or an incident carries, and
the files pages ask for (docs/design.md, "Photos").

An upload (``Photos.upload``) is checked and processed in a worker (ticker.media.pool), then its files and its row
are written in one transaction, answered with the photo as entries carry it::

    {"id": "ph_…", "alt": "…", "credit": "…", "caption": null, "width": 1600, "height": 1067,
     "src": "/media/<sha256>.jpg",
     "files": [{"url": "/media/<sha256>.avif", "type": "image/avif", "width": 320, "height": 213}, …]}

An entry names its photos by id (``resolve``), and may give each its own alt text, credit or caption instead of
the upload's; what it stores, and what its events carry, is that whole object, so no page or event reads another
table to show a photo.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ticker.config import Settings
from ticker.errors import Refused
from ticker.media.images import PhotoRefused, ProcessedPhoto, Variant
from ticker.media.model import Photo
from ticker.media.pool import PhotoBusy, PhotoPool
from ticker.media.storage import File, FileCache, MediaStorage
from ticker.store.audit import SYSTEM, Actor
from ticker.store.sql import Idempotency, Store, Tx, WriteResult
from ticker.textrules import Kind, problem

MEDIA_PREFIX = "/media/"
SRC_WIDTH = 1024  # the JPEG a page names in src (and the feed, JSON-LD, oEmbed): wide enough, not the largest
THUMBNAIL_WIDTH = 640  # a link card's picture


def too_many_uploads(limit: int) -> Refused:
    message = f"at most {limit} photo uploads a minute (TICKER_PHOTO_UPLOADS_PER_MINUTE)"
    return Refused("too_many_uploads", message, "file")


def busy() -> Refused:
    return Refused("busy", "every photo worker is busy: try again in a few seconds", "file")


def refused(error: PhotoRefused) -> Refused:
    """The API's answer to a file that is no photo we keep, naming the file."""
    return Refused(error.code, error.message, "file")


def _file_of(variant: Variant) -> File:
    return File(variant.name, variant.data)


def files_json(photo: ProcessedPhoto) -> list[dict[str, Any]]:
    """The variants as entries carry them: smallest first within each type, AVIF, then WebP, then JPEG."""
    order = {"avif": 0, "webp": 1, "jpeg": 2}
    ranked = sorted(photo.variants, key=lambda v: (order[v.format], v.width))
    return [
        {"url": MEDIA_PREFIX + v.name, "type": v.content_type, "width": v.width, "height": v.height} for v in ranked
    ]


def src_of(files: Sequence[Mapping[str, Any]]) -> str:
    """The JPEG an <img> names for browsers that take no srcset, a feed reader or a search engine."""
    jpegs = [f for f in files if f["type"] == "image/jpeg"]
    fitting = [f for f in jpegs if f["width"] <= SRC_WIDTH]
    return str((max(fitting, key=lambda f: f["width"]) if fitting else min(jpegs, key=lambda f: f["width"]))["url"])


def photo_json(row: Photo) -> dict[str, Any]:
    return {
        "id": row.id,
        "alt": row.alt,
        "credit": row.credit,
        "caption": row.caption,
        "width": row.width,
        "height": row.height,
        "src": src_of(row.files),
        "files": row.files,
    }


@dataclass(frozen=True)
class Captions:
    """What a person says about a photo: each text is checked here, for the upload and for an entry's photo."""

    alt: str
    credit: str
    caption: str | None

    @classmethod
    def checked(cls, alt: str | None, credit: str | None, caption: str | None, most: int, at: str = "") -> Captions:
        alt, credit = (alt or "").strip(), (credit or "").strip()
        caption = (caption or "").strip() or None
        if not alt:
            raise Refused.invalid(
                at + "alt", f"{at}alt: a photo needs alt text (what it shows, for those who cannot see it)"
            )
        if not credit:
            raise Refused.invalid(at + "credit", f"{at}credit: a photo needs a credit (who took it)")
        texts = (("alt", alt, Kind.LINE), ("credit", credit, Kind.NAME), ("caption", caption, Kind.MULTILINE))
        for name, value, kind in texts:
            if value is None:
                continue
            if len(value) > most:
                raise Refused.invalid(at + name, f"{at}{name}: at most {most} characters (TICKER_PHOTO_TEXT_MAX_CHARS)")
            if (found := problem(value, kind)) is not None:
                raise Refused.invalid(at + name, f"{at}{name}: {found}")
        return cls(alt, credit, caption)


class Photos:
    def __init__(self, settings: Settings, store: Store, storage: MediaStorage) -> None:
        self.settings = settings
        self.store = store
        self.storage = storage
        self.pool = PhotoPool(settings, settings.photo_workers, settings.photo_queue)
        self.cache = FileCache(settings.media_cache_bytes)

    def close(self) -> None:
        self.pool.close()

    async def process(self, data: bytes) -> ProcessedPhoto:
        """``data`` through the pipeline in a worker; the API's error for a refused file or a full queue."""
        try:
            return await self.pool.process(data)
        except PhotoRefused as error:
            raise refused(error) from None
        except PhotoBusy:
            raise busy() from None

    async def check_rate(self, user_id: int) -> None:
        """429 once ``user_id`` uploaded ``photo_uploads_per_minute`` photos in the last minute, on any node (the
        photos table is what every node shares; a retried upload answered from its key is not counted)."""
        limit = self.settings.photo_uploads_per_minute
        since = datetime.now(UTC) - timedelta(minutes=1)
        query = select(func.count()).where(Photo.uploaded_by == user_id, Photo.created_at > since)
        async with self.store.reading() as session:
            if int(await session.scalar(query) or 0) >= limit:
                raise too_many_uploads(limit)

    async def upload(
        self, data: bytes, captions: Captions, *, by: int, idem: Idempotency | None = None, actor: Actor = SYSTEM
    ) -> WriteResult:
        """Process and keep a photo; ``{"photo": …}`` (201). Nothing is kept for a refused file."""
        await self.check_rate(by)
        processed = await self.process(data)
        files = [_file_of(v) for v in processed.variants]

        async def op(tx: Tx) -> dict[str, Any]:
            await self.storage.put(tx.session, files)
            row = Photo(
                id="ph_" + secrets.token_urlsafe(18),
                uploaded_by=by,
                created_at=tx.at,
                alt=captions.alt,
                credit=captions.credit,
                caption=captions.caption,
                width=processed.width,
                height=processed.height,
                source_format=processed.source_format,
                source_digest=processed.source_digest,
                files=files_json(processed),
            )
            tx.session.add(row)
            return {"photo": photo_json(row)}

        return await self.store.write(op, actor=actor, status=201, idem=idem)

    async def thumbnail(self, data: bytes) -> dict[str, Any]:
        """A link card's picture (ticker.media.cards' Thumbnails): one JPEG of ``THUMBNAIL_WIDTH`` at most, on
        our origin, with nothing of the provider's file but its pixels. Raises Refused as an upload does."""
        processed = await self.process(data)
        jpegs = processed.of_format("jpeg")
        fitting = [v for v in jpegs if v.width <= THUMBNAIL_WIDTH] or jpegs[:1]
        chosen = fitting[-1]
        async with self.store.writing() as session:
            await self.storage.put(session, [_file_of(chosen)])
        return {"url": MEDIA_PREFIX + chosen.name, "width": chosen.width, "height": chosen.height}

    async def resolve(self, refs: Sequence[Mapping[str, Any]], field: str = "photos") -> list[dict[str, Any]]:
        """The photos an entry (or, with one ref, an incident) carries: each ref's id must be an uploaded photo,
        and its alt text, credit and caption, given or the upload's, must pass ``Captions.checked``."""
        if len(refs) > self.settings.photo_max_per_entry:
            most = self.settings.photo_max_per_entry
            raise Refused.invalid(field, f"{field}: at most {most} photos (TICKER_PHOTO_MAX_PER_ENTRY)")
        ids = [str(ref["id"]) for ref in refs]
        if len(set(ids)) != len(ids):
            raise Refused.invalid(field, f"{field}: a photo is named twice")
        rows: dict[str, Photo] = {}
        if ids:
            async with self.store.reading() as session:
                rows = {p.id: p for p in await session.scalars(select(Photo).where(Photo.id.in_(ids)))}
        resolved = []
        for n, ref in enumerate(refs):
            at = f"{field}[{n}]." if field == "photos" else f"{field}."
            row = rows.get(ids[n])
            if row is None:
                raise Refused.invalid(at + "id", f"{at}id: no photo {ids[n]!r} was uploaded (POST /api/photos first)")
            captions = Captions.checked(
                ref.get("alt", row.alt),
                ref.get("credit", row.credit),
                ref.get("caption", row.caption),
                self.settings.photo_text_max_chars,
                at,
            )
            resolved.append(
                {**photo_json(row), "alt": captions.alt, "credit": captions.credit, "caption": captions.caption}
            )
        return resolved

    async def file(self, name: str) -> File | None:
        """A file by its name, from this node's memory or the storage every node shares."""
        found = self.cache.get(name)
        if found is None:
            found = await self.storage.get(name)
            if found is not None:
                self.cache.put(found)
        return found


def upload_fingerprint(path: str, data: bytes, captions: Captions) -> str:
    """What an upload's Idempotency-Key is bound to: the file and its texts (a key reused for another photo is
    refused, as for any write)."""
    digest = hashlib.sha256(f"POST {path}\n".encode())
    for part in (captions.alt, captions.credit, captions.caption or ""):
        digest.update(part.encode() + b"\x00")
    digest.update(data)
    return digest.hexdigest()
