"""Tips arrive live in the desk's queue, over the stream the desk already has: the "Händelser" panel's
(ticker.sources.panel, ``GET /desk/sources/stream``), which carries them to the editors' panels only (the tips hold
contact details). The panel's first message gets ``"tips"``, the open tips; each change is
``{"type": "tips", "tips": [...]}`` (a tip's ``version`` grows with each; one deleted is ``{"id", "state":
"deleted"}``). The node that took the change tells its panels and announces the ids on the notices stream; every
other node reads the tips from SQL and tells its own, as for the sources' items.

The janitor deletes every tip older than ``TICKER_TIPS_KEEP_DAYS``, on each node once at start and then hourly
(a delete of what is already gone costs nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from ticker.background import Background
from ticker.config import Settings
from ticker.live.topic import Reader
from ticker.logs import log_event
from ticker.notices import Notices
from ticker.roles import Action
from ticker.sources.panel import Panel
from ticker.store.accounts import Account
from ticker.store.sql import Store
from ticker.tips.store import expire, secret_key, tip_views

TIPS = "tips"  # the notice kind
SWEEP_SECONDS = 3600


class TipQueue:
    def __init__(self, settings: Settings, store: Store, panel: Panel, notices: Notices) -> None:
        self.settings = settings
        self.store = store
        self.panel = panel
        self.notices = notices
        self.editors: set[Reader] = set()  # the panels of those who may handle tips
        self._janitor = Background("tips-janitor", self._sweep)
        self._key: bytes | None = None
        panel.parts.append(self)
        notices.on(TIPS, lambda notice: self.panel.later(self._tell([int(i) for i in notice["ids"]])))

    def start(self) -> None:
        self._janitor.start()

    async def stop(self) -> None:
        await self._janitor.stop()

    async def key(self) -> bytes:
        """The installation's key for the forms' tokens and the senders' hashes (read once per node)."""
        if self._key is None:
            self._key = await secret_key(self.store)
        return self._key

    # The panel's part.

    async def first(self, reader: Reader, account: Account | None) -> dict[str, Any]:
        if account is None or not account.may(Action.HANDLE_TIPS):
            return {}
        self.editors.add(reader)  # before the read: a change meanwhile is held for it, and applied after
        return {"tips": await tip_views(self.store, limit=self.settings.tips_desk_items)}

    def leave(self, reader: Reader) -> None:
        self.editors.discard(reader)

    # Changes.

    async def changed(self, ids: Iterable[int]) -> None:
        """Tips were added, answered, discarded or deleted here: tell this node's desks and every other node."""
        ids = list(ids)
        if ids:
            await self._tell(ids)
            await self.notices.announce(TIPS, ids=ids)

    async def _tell(self, ids: list[int]) -> None:
        if self.editors:
            tips = await tip_views(self.store, ids=ids)
            self.panel.send({"type": "tips", "tips": tips}, to=self.editors.__contains__)

    async def _sweep(self) -> None:
        while True:
            try:
                gone = await expire(self.store, self.settings.tips_keep_days)
                if gone:
                    log_event("tips_expired", removed=len(gone))
                    await self.changed(gone)
            except Exception as exc:  # the store may be briefly away; try again next round
                log_event("tips_janitor_failed", logging.WARNING, error=repr(exc)[:300])
            await asyncio.sleep(SWEEP_SECONDS)
