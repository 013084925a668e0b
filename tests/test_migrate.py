"""Schema migrations: nodes starting together on one PostgreSQL take turns; a second upgrade is a no-op."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
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
