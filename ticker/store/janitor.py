"""The store's janitor: Idempotency-Keys past their lifetime (TICKER_IDEMPOTENCY_TTL_SECONDS) are deleted, on each
node every quarter of that lifetime, at most hourly (a delete of what another node deleted costs nothing)."""

from __future__ import annotations

import asyncio
import functools
import logging

from ticker.background import Background
from ticker.logs import log_event
from ticker.store.sql import Store


def idempotency_janitor(store: Store, ttl_seconds: int) -> Background:
    return Background("idempotency-janitor", functools.partial(_sweep, store, ttl_seconds))


async def _sweep(store: Store, ttl_seconds: int) -> None:
    while True:
        try:
            removed = await store.expire_idempotency_keys(ttl_seconds)
            if removed:
                log_event("idempotency_keys_expired", removed=removed)
        except Exception as exc:  # the store may be briefly away; try again next round
            log_event("janitor_failed", logging.WARNING, error=repr(exc))
        await asyncio.sleep(min(3600, max(1, ttl_seconds // 4)))
