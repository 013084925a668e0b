"""The photos' tables: each uploaded photo (who, when, its variants' files) and the files themselves when they are
kept in SQL (ticker.media.storage).

An entry or an incident does not point at a row here: it carries what pages need of each of its photos (alt text,
credit, caption, size and the variants' URLs) in its own JSON column, so that events, snapshots and pages read no
other table (docs/design.md, "Photos"). This table is what an upload made, what an entry's photo ids are checked
against, and what the per-user upload rate counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticker.store.tables import Base, UTCDateTime


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_uploaded_by_created_at", "uploaded_by", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "ph_" and random letters: not guessable
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: not a person's (a card's)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alt: Mapped[str] = mapped_column(Text)  # what the photo shows, for those who cannot see it ("Bildbeskrivning")
    credit: Mapped[str] = mapped_column(Text)  # "Foto: …"
    caption: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(8))  # what was uploaded: JPEG, PNG, WEBP, GIF, HEIF
    source_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the uploaded bytes (never kept)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{url, type, width, height, bytes}]


class MediaFile(Base):
    """A variant's bytes, under its content-addressed name (``<sha256>.<ext>``): the same name is the same bytes
    on every node, for ever, so any node may serve it and every cache may keep it."""

    __tablename__ = "media_files"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
