"""Sources in tests: node settings that reach loopback fixture servers quickly, and an admin who adds sources."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.support.node import Node, Reporter, node_settings
from ticker.config import Settings
from ticker.sources.model import Source, SourceItem

# Loopback only by explicit setting; polls as often as tests want them, never below a one-second floor; the
# recorded answers' events, from a fixed day, are kept whenever the tests run.
FAST = {
    "fetch_allow_loopback": True,
    "sources_min_interval_seconds": 1,
    "fetch_timeout_seconds": 2.0,
    "sources_keep_hours": 100 * 365 * 24,
}


def sources_settings(database_url: str, redis_url: str | None = None, **overrides: Any) -> Settings:
    return node_settings(database_url, redis_url, **{**FAST, **overrides})


def police_events(*events: dict[str, Any]) -> bytes:
    """An answer of the police's events API, in its documented shape."""
    return json.dumps(list(events), ensure_ascii=False).encode()


def police_event(
    event_id: int, summary: str, *, place: str = "Södertälje", kind: str = "Trafikbrott"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "datetime": "2026-11-30 21:41:09 +01:00",
        "name": f"30 november 21.41, {kind}, {place}",
        "summary": summary,
        "url": f"/aktuellt/handelser/2026/november/30/{event_id}/",
        "type": kind,
        "location": {"name": place, "gps": "59.195363,17.625689"},
    }


async def admin(node: Node) -> Reporter:
    return await node.reporter("admin", role="admin")


async def add_source(tool: Reporter, name: str, url: str, kind: str = "polisen", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "kind": kind, "url": url, "interval_seconds": 1, **fields}
    found: dict[str, Any] = (await tool.call("POST", "/api/sources", 201, json=body))["source"]
    return found


async def stored(node: Node) -> list[SourceItem]:
    async with node.services.store.reading() as session:
        return list(await session.scalars(select(SourceItem).order_by(SourceItem.id)))


async def source_row(node: Node, name: str) -> Source:
    async with node.services.store.reading() as session:
        found = await session.scalar(select(Source).where(Source.name == name))
    assert found is not None
    return found
