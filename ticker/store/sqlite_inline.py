"""SQLite's writer on the event loop's own thread: no hop to a thread and back per statement.

aiosqlite runs every call of a connection (a cursor, an execute, a fetch, a commit) in the connection's own
thread and wakes the loop for each answer: a post's transaction made about a hundred such round trips, most of
a post's CPU on SQLite. The writer's statements are short and never wait on another connection once the
transaction holds SQLite's write lock (WAL: readers never block a writer, and a commit's checkpoint is passive),
so they run on the loop's thread instead, through the standard library's sqlite3 and SQLAlchemy's pysqlite
dialect, marked async so that an ``AsyncEngine`` and its asyncio pool take it.

The one wait is for the write lock itself, held by another process (a CLI command writing to the same file):
``BEGIN IMMEDIATE`` is tried without SQLite's busy handler (which would block the loop) and retried with an
asyncio sleep until ``lock_timeout`` (``begin_immediate``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util import await_

DRIVER = "tickerinline"
LOCK_POLL_SECONDS = 0.002  # the first retry of a taken write lock; doubled up to LOCK_POLL_MAX_SECONDS
LOCK_POLL_MAX_SECONDS = 0.05


class InlineCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio results call on a cursor with rows left: nothing to do when fetching them
        does not wait (aiosqlite's cursor fetches them into memory here)."""


class InlineConnection(sqlite3.Connection):
    def cursor(self, factory: Any = InlineCursor) -> Any:
        return super().cursor(factory)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, run from SQLAlchemy's greenlet on the loop's thread (``is_async``: an AsyncEngine may use it)."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool  # a checkout waits on the loop, not on a lock

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, options = super().create_connect_args(url)
        # check_same_thread: a connection is only used on its loop, but the pool may close one from a finalizer.
        return args, {**options, "factory": InlineConnection, "check_same_thread": False}


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")


def inline_url(url: str) -> str:
    """``url`` (sqlite+aiosqlite:///…) for the inline driver."""
    scheme, sep, rest = url.partition(":")
    return f"sqlite+{DRIVER}{sep}{rest}" if scheme.startswith("sqlite") else url


def begin_immediate(connection: Connection, lock_timeout: float) -> None:
    """``BEGIN IMMEDIATE``, waiting on the loop (not in SQLite's busy handler) while another process writes."""
    delay, deadline = LOCK_POLL_SECONDS, time.monotonic() + lock_timeout
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except Exception as exc:
            if not _locked(exc) or time.monotonic() >= deadline:
                raise
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, LOCK_POLL_MAX_SECONDS)


def _locked(exc: Exception) -> bool:
    cause: Any = getattr(exc, "orig", exc)
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)
