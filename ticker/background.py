"""One named task a component runs beside the node's requests (a relay's loop, a janitor, a listener).

Every such task starts the same way and stops the same way: cancelled, awaited until it has run its
``finally`` blocks, its cancellation swallowed. A loop that ends by raising is a bug (the loops catch what
they expect and retry), so it is logged at once, as one ERROR line with where it came from, rather than
surfacing as "Task exception was never retrieved" or from the node's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ticker.logs import log_event, raised_at


class Background:
    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self.run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._guarded(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end; nothing to do if it never started."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _guarded(self) -> None:
        try:
            await self.run()
        except Exception as exc:
            log_event("background_failed", logging.ERROR, task=self.name, error=repr(exc)[:300], at=raised_at(exc))
