"""Where photos' files are kept: in the SQL database (the default) or in a directory every node shares.

Both keep a file under its content-addressed name (``<sha256>.<ext>``), so a name is the same bytes on every node
for ever: any node may serve any file, a file written twice is written once, and every cache may keep it
(``Cache-Control: immutable``). Why SQL by default (docs/design.md, "Photos"): the database is already the one
thing every deployment shares, embedded or with N nodes, so a photo uploaded through one node is served by every
node with no extra service; a newsroom that would rather keep gigabytes of photos out of its database backups
sets ``TICKER_MEDIA_DIR`` to a volume every node mounts.

``put`` runs inside the upload's write transaction (``session``): with SQL the files and the photo's row commit
together, so a refused or failed upload leaves nothing behind; a directory's files are written first (atomically,
by rename) and are harmless if the row then fails, as a name can only ever hold its own bytes.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ticker.media.model import MediaFile
from ticker.store.sql import Store

NAME = re.compile(r"^[0-9a-f]{64}\.(?:avif|webp|jpg)$")
TYPES = {"avif": "image/avif", "webp": "image/webp", "jpg": "image/jpeg"}


@dataclass(frozen=True, slots=True)
class File:
    name: str  # <sha256 of data>.<ext>
    data: bytes

    @property
    def content_type(self) -> str:
        return TYPES[self.name.rsplit(".", 1)[1]]


class MediaStorage(Protocol):
    async def put(self, session: AsyncSession, files: Sequence[File]) -> None: ...

    async def get(self, name: str) -> File | None: ...


class SqlStorage:
    """Files as rows of ``media_files`` in the node's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def put(self, session: AsyncSession, files: Sequence[File]) -> None:
        if not files:
            return
        at = datetime.now(UTC)
        rows = [
            {"name": f.name, "content_type": f.content_type, "size": len(f.data), "data": f.data, "created_at": at}
            for f in files
        ]
        # The same photo (or variant) uploaded again, maybe through another node at the same moment: its name is
        # its bytes, so a row already there is the same row.
        dialect = postgresql if not self.store.is_sqlite else sqlite
        await session.execute(dialect.insert(MediaFile).values(rows).on_conflict_do_nothing(index_elements=["name"]))

    async def get(self, name: str) -> File | None:
        async with self.store.reading() as session:
            data = await session.scalar(select(MediaFile.data).where(MediaFile.name == name))
        return None if data is None else File(name, data)


class DirectoryStorage:
    """Files in ``root`` (``ab/abcdef….webp``), a directory every node mounts (NFS, a shared volume)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root / name[:2] / name

    async def put(self, session: AsyncSession, files: Sequence[File]) -> None:
        await asyncio.to_thread(self._write, files)

    def _write(self, files: Sequence[File]) -> None:
        for f in files:
            path = self._path(f.name)
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside it and renamed: a reader on any node sees the whole file or none.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(f.data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    async def get(self, name: str) -> File | None:
        try:
            data = await asyncio.to_thread(self._path(name).read_bytes)
        except FileNotFoundError:
            return None
        return File(name, data)


def storage_for(media_dir: str, store: Store) -> MediaStorage:
    return DirectoryStorage(media_dir) if media_dir else SqlStorage(store)


class FileCache:
    """The files a node served lately, up to ``max_bytes``, least recently used out first: a photo on an open
    incident is asked for by every reader who scrolls to it, and its bytes never change."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._files: OrderedDict[str, File] = OrderedDict()

    def get(self, name: str) -> File | None:
        found = self._files.get(name)
        if found is not None:
            self._files.move_to_end(name)
        return found

    def put(self, file: File) -> None:
        if len(file.data) > self.max_bytes or file.name in self._files:
            return
        self._files[file.name] = file
        self.size += len(file.data)
        while self.size > self.max_bytes:
            _, old = self._files.popitem(last=False)
            self.size -= len(old.data)
