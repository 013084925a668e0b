"""The desk's "Händelser" panels open on this node, and how they hear of every change on any node.

A panel is an SSE stream (``GET /desk/sources/stream``) whose sink the hub knows as one more reader, so the
node's stop (1012) and a logout (4001, on every node) close it like any other. It first gets the whole panel
(``{"type": "panel", "items", "sources"}``), then each change as it happens: ``{"type": "items", "items"}`` for
items new, changed by their source, or dismissed, watched or made a ticker on the desk (an item's ``version``
grows with each), and ``{"type": "sources", "sources"}`` when a source's status changes. Messages that arrive
while a panel's first state is being read wait, and follow it, so none is lost or shown out of order.

The poll runs on one node and the panel may be open on another: the node that made a change tells its own
panels and announces the change's ids on the notices stream (ticker.notices); every other node reads the
items from SQL and tells its panels, so a desk hears of a new item within a moment of the poll that stored it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ticker.config import Settings
from ticker.events import dumps
from ticker.live.frames import text_frame
from ticker.live.hub import Hub
from ticker.live.topic import Reader, Sink
from ticker.logs import log_event
from ticker.notices import Notices
from ticker.sources.store import SourceLimits, item_views, source_views
from ticker.store.accounts import Account
from ticker.store.sql import Store

ITEMS = "source_items"  # notice kinds
SOURCES = "source_status"


class Part(Protocol):
    """More of the desk's live state on the panel's stream: its share of the first message, for the account
    whose panel it is (``{}`` for none), and the end of a panel."""

    async def first(self, reader: Reader, account: Account | None) -> dict[str, Any]: ...

    def leave(self, reader: Reader) -> None: ...


class Panel:
    def __init__(self, settings: Settings, store: Store, hub: Hub, notices: Notices) -> None:
        self.store = store
        self.hub = hub
        self.notices = notices
        self.limits = SourceLimits.of(settings)
        self.items = settings.sources_panel_items  # how many a panel shows
        self.live: set[Reader] = set()
        self.joining: dict[Reader, list[bytes]] = {}  # frames held while the panel's first state is read
        self.parts: list[Part] = []  # more of the desk's live state on the same stream (ticker.tips.queue)
        self._tasks: set[asyncio.Task[None]] = set()
        notices.on(ITEMS, lambda notice: self.later(self._items([int(i) for i in notice["ids"]])))
        notices.on(SOURCES, lambda notice: self.later(self._sources([int(i) for i in notice["ids"]])))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Panels.

    async def open(self, sink: Sink, owner: int, account: Account | None = None) -> Reader:
        """A new panel: its first state, then every change (held back until that state is sent)."""
        reader = self.hub.connect(sink)
        reader.owner = owner  # its login: a logout closes it on every node
        self.joining[reader] = []
        try:
            items = await item_views(self.store, limit=self.items)
            sources = await source_views(self.store, self.limits)
            more: dict[str, Any] = {}
            for part in self.parts:
                more.update(await part.first(reader, account))
        except BaseException:
            self.leave(reader)
            self.hub.disconnect(reader)
            raise
        reader.send({"type": "panel", "items": items, "sources": sources, **more})
        for frame in self.joining.pop(reader, []):
            reader.write(frame)
        self.live.add(reader)
        return reader

    def leave(self, reader: Reader) -> None:
        self.live.discard(reader)
        self.joining.pop(reader, None)
        for part in self.parts:
            part.leave(reader)

    # Changes: from this node (``changed``, ``status_changed``) and from others (notices).

    async def changed(self, ids: Iterable[int]) -> None:
        """Items were added or changed here: tell this node's panels and every other node."""
        ids = list(ids)
        if ids:
            await self._items(ids)
            await self.notices.announce(ITEMS, ids=ids)

    async def status_changed(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            await self._sources(ids)
            await self.notices.announce(SOURCES, ids=ids)

    async def _items(self, ids: list[int]) -> None:
        if self._listening():
            self.send({"type": "items", "items": await item_views(self.store, ids=ids)})

    async def _sources(self, ids: list[int]) -> None:
        if self._listening():
            self.send({"type": "sources", "sources": await source_views(self.store, self.limits, ids)})

    def _listening(self) -> bool:
        return bool(self.live or self.joining)

    def send(self, message: dict[str, Any], to: Callable[[Reader], bool] = lambda _reader: True) -> None:
        """A message for every open panel (``to``: those it accepts), framed once."""
        frame = text_frame(dumps(message))  # built once for every panel
        for reader in [r for r in self.live if r not in self.hub.readers]:
            self.live.discard(reader)  # closed by the hub (logout, stop): its stream is ending
        for reader in self.live:
            if to(reader):
                reader.write(frame)
        for reader, held in self.joining.items():
            if to(reader):
                held.append(frame)

    def later(self, work: Any) -> None:
        """Another node's news, read from SQL in a task of its own (notices are handled without waiting)."""

        async def run() -> None:
            try:
                await work
            except Exception as exc:  # the store briefly away: the panel catches up when it reconnects
                log_event("panel_update_failed", logging.WARNING, error=repr(exc)[:300])

        if not self._listening():
            work.close()  # nobody here to tell
            return
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
