"""Schema migrations: nodes starting together on one PostgreSQL take turns; a second upgrade is a no-op; data
written before a migration is carried over."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from ticker.store.migrate import upgrade


async def test_concurrent_upgrades_on_postgresql_take_turns(postgres_url: str) -> None:
    await asyncio.gather(*(upgrade(postgres_url) for _ in range(4)))
    await upgrade(postgres_url)
    engine = create_async_engine(postgres_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    assert {"incidents", "entries", "events", "users", "api_tokens", "idempotency_keys", "alembic_version"} <= tables


async def test_upgrading_gives_entries_written_before_their_plain_text(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """0004 adds the text search reads and fills it for the entries already there, in batches."""
    caplog.set_level(logging.INFO, logger="ticker")
    await upgrade(postgres_url, "0002")
    await upgrade(postgres_url, "0003")  # both heads before 0004, as a node of that time had them
    engine = create_async_engine(postgres_url)
    at = datetime(2024, 5, 7, 20, 37, tzinfo=UTC)
    bodies = [f"<p>Uppdatering {n}: <strong>AT&amp;T</strong>-masten.</p>" for n in range(1, 2501)]
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (id, name, display_name, role, created_at) VALUES (1, 'anna', 'Anna', 'editor', :at)"
            ),
            {"at": at},
        )
        await connection.execute(
            text(
                "INSERT INTO incidents (id, slug, title, summary, status, category, location, epoch, seq, created_at,"
                " updated_at) VALUES (1, 'brand', 'Brand', '', 'live', '', '', 'e1', 0, :at, :at)"
            ),
            {"at": at},
        )
        await connection.execute(
            text(
                "INSERT INTO entries (incident_id, author_id, author_name, body, label, created_at, key_event, pinned,"
                " retracted) VALUES (1, 1, 'Anna', :body, '22:37', :at, false, false, false)"
            ),
            [{"body": body, "at": at} for body in bodies],
        )
    await upgrade(postgres_url)
    async with engine.connect() as connection:
        texts = (await connection.execute(text("SELECT body_text FROM entries ORDER BY id"))).scalars().all()
    await engine.dispose()
    assert texts == [f"Uppdatering {n}: AT&T-masten." for n in range(1, 2501)]
    progress = [r.message for r in caplog.records if r.message.startswith("event=migration_progress")]
    assert [line.rsplit(" ", 2)[1:] for line in progress] == [  # three batches of up to 1,000, each shown
        ["done=1000", "total=2500"],
        ["done=2000", "total=2500"],
        ["done=2500", "total=2500"],
    ]
