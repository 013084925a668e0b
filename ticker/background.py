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

CANCEL_AGAIN_SECONDS = 1.0  # a task that lost its cancellation is cancelled again after this


class Background:
    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self.run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._guarded(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end; nothing to do if it never started.

        Cancelled again every ``CANCEL_AGAIN_SECONDS`` while it runs: a cancellation can be lost in a library
        (redis-py sends each command under ``asyncio.wait_for``, which on Python 3.11 swallows one that arrives
        in the turn its command completes; see ``woken``), and the task's loop would then go on for ever. A
        worker whose node-stats task lost it so was stuck in its stop until the supervisor killed it."""
        task, self._task = self._task, None
        if task is None:
            return
        ended = asyncio.Event()
        task.add_done_callback(lambda _task: ended.set())
        while not task.done():
            task.cancel()
            await woken(ended, CANCEL_AGAIN_SECONDS)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _guarded(self) -> None:
        try:
            await self.run()
        except Exception as exc:
            log_event("background_failed", logging.ERROR, task=self.name, error=repr(exc)[:300], at=raised_at(exc))


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True if it was set.

    Not ``asyncio.wait_for(event.wait(), seconds)``: on Python 3.11 that swallows a cancellation that arrives in
    the loop turn in which the event is set (it returns the result instead), so a loop cancelled at that moment
    runs on and whoever awaits its end waits for ever. An SSE stream whose reader left just as its first message
    was queued leaked that way (tests/test_node_status.py, under load). ``asyncio.timeout`` has no such gap.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
