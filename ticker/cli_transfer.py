"""The work behind `ticker incident export` and `import` (straight to the database, with progress on stderr for
a big incident) and `ticker db backup` (SQLite's online backup, while a node runs). ticker.cli only forwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ticker.cli_text import CliError, say
from ticker.config import Settings
from ticker.store.audit import Actor
from ticker.store.sql import Store
from ticker.store.tombstone import DELETED
from ticker.store.transfer import Imported, Progress

Say = Callable[[str], None]


def progress_to(tell: Say, batch: int) -> Progress:
    """Progress lines for what takes more than one batch: a small incident is done before one would be read."""

    def progress(what: str, done: int, total: int) -> None:
        if total > batch:
            tell(say("progress", what=say(f"what_{what}"), done=done, total=total))

    return progress


async def export_incident(store: Store, settings: Settings, slug: str, out: IO[str], tell: Say) -> dict[str, Any]:
    """Write the incident's file to ``out``; returns it."""
    from ticker.http.transfer import file_view
    from ticker.store.transfer import read_incident

    batch = settings.transfer_batch
    found = file_view(await read_incident(store, slug, progress_to(tell, batch), batch=batch))
    json.dump(found, out, ensure_ascii=False, separators=(",", ":"))
    out.write("\n")
    return found


def load_file(source: IO[str], name: str) -> Any:
    """An incident's file, read and checked by the model an import over the API uses."""
    from pydantic import ValidationError

    from ticker.http.incident_file import IncidentFile

    try:
        data = json.load(source)
    except ValueError as exc:
        raise CliError(say("not_json", path=name, reason=str(exc))) from None
    try:
        return IncidentFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "file"
        raise CliError(say("bad_file", path=name, field=field, message=first["msg"])) from None


async def import_incident(
    store: Store,
    settings: Settings,
    file: Any,
    *,
    slug: str | None,
    restore: bool,
    stand_in: str | None,
    actor: Actor,
    tell: Say,
) -> Imported:
    """Import a loaded file. With Redis, the incident's old stream (a deleted incident's, from before) is
    removed first, or nothing is imported: the nodes read the new history, never the old."""
    from ticker.errors import BrokerUnavailable
    from ticker.store.accounts import user_by_name
    from ticker.store.transfer import write_incident

    stand_in_id = (await user_by_name(store, stand_in)).id if stand_in else None
    before_commit = None
    broker = None
    if settings.redis_url is not None:
        from ticker.broker.redis import RedisBroker

        broker = RedisBroker(settings.redis_url, command_timeout=settings.redis_timeout_seconds)
        before_commit = broker.forget
    try:
        return await write_incident(
            store,
            file,
            slug=slug or file.incident.slug,
            actor=actor,
            restore=restore,
            stand_in=stand_in_id,
            before_commit=before_commit,
            progress=progress_to(tell, settings.transfer_batch),
            batch=settings.transfer_batch,
        )
    except BrokerUnavailable:
        raise CliError(say("redis_away", url=settings.redis_url)) from None
    finally:
        if broker is not None:
            await broker.close()


# Backups.

STEP_PAGES = 1024  # pages copied per step of SQLite's backup, between progress lines (4 MiB at 4 KiB a page)
RESTARTS = 3  # a backup restarted by the node's writes this often is done again in one step


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    incidents: int
    entries: int


def sqlite_file(settings: Settings) -> Path:
    """The SQLite file behind the database URL; CliError for PostgreSQL (pg_dump backs that up)."""
    scheme, _, path = settings.database_url.partition(":///")
    if not scheme.startswith("sqlite"):
        raise CliError(say("backup_postgres"))
    if not path or path.startswith(":memory:"):
        raise CliError(say("backup_memory"))
    return Path(path.split("?", 1)[0])


def backup_sqlite(source: Path, target: Path, tell: Say) -> Backup:
    """Copy the database with SQLite's online backup while a node may be writing to it, to ``target`` (which
    must not exist), then check the copy opens and count what it holds.

    The copy goes in steps with a progress line after each. A write by the node between steps starts SQLite's
    copy over; after ``RESTARTS`` of those the rest is copied in one step (one read transaction, which does not
    stop the node's writes: the database is in WAL mode)."""
    if target.exists():
        raise CliError(say("backup_exists", path=target))
    if not source.exists():
        raise CliError(say("backup_no_database", path=source))
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    reader = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)  # never creates one
    try:
        try:
            _copy(reader, partial, STEP_PAGES, tell)
        except _Restarted:
            partial.unlink(missing_ok=True)
            _copy(reader, partial, -1, tell)
    finally:
        reader.close()
    incidents, entries = _check(partial)
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, incidents, entries)


class _Restarted(Exception):
    """The node's writes restarted the copy too often."""


def _copy(reader: sqlite3.Connection, path: Path, pages: int, tell: Say) -> None:
    restarts = 0
    left = None

    def step(_status: int, remaining: int, total: int) -> None:
        nonlocal restarts, left
        if left is not None and remaining > left:
            restarts += 1
            if restarts > RESTARTS:
                raise _Restarted
        left = remaining
        tell(say("backup_progress", done=total - remaining, total=total))

    writer = sqlite3.connect(path)
    try:
        reader.backup(writer, pages=pages, progress=step)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, without a -wal beside it
    finally:
        writer.close()


def _check(path: Path) -> tuple[int, int]:
    """The copy's integrity, and how many incidents and entries it holds."""
    copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise CliError(say("backup_corrupt", path=path, verdict=verdict))
        (incidents,) = copy.execute("SELECT count(*) FROM incidents WHERE status != ?", (DELETED,)).fetchone()
        (entries,) = copy.execute("SELECT count(*) FROM entries").fetchone()
    finally:
        copy.close()
    return int(incidents), int(entries)
