"""The photo workers: ``process_photo`` runs in a small thread pool with a bounded queue, so decoding and encoding
never hold the event loop that fans events out (Pillow releases the GIL while it decodes, scales and encodes).

More uploads than ``photo_workers + photo_queue`` at once are refused at once (``PhotoBusy``, 503 with
Retry-After) instead of queueing without bound: a burst of phones cannot pile up memory on a node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ticker.media.images import PhotoSettings, ProcessedPhoto, process_photo

# How much less a photo worker thread gets of a busy CPU than the event loop (Linux's nice, per thread): on a node
# whose cores are all taken, fan-out comes first and photos wait (docs/benchmarks.md, "Photos").
WORKER_NICENESS = 10


def _lower_priority() -> None:
    # Linux schedules threads as tasks of their own: setpriority on the thread's id lowers this thread only.
    # Elsewhere (or where it is not allowed) the workers keep the process's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


class PhotoBusy(RuntimeError):
    """Every worker is busy and the queue is full: try again in a moment."""


class PhotoPool:
    def __init__(self, settings: PhotoSettings, workers: int, queue: int) -> None:
        self._settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="photo", initializer=_lower_priority
        )
        self._room = workers + queue
        self._waiting = 0

    @property
    def busy(self) -> int:
        """Photos being processed or waiting for a worker."""
        return self._waiting

    async def process(self, data: bytes) -> ProcessedPhoto:
        """``process_photo(data)`` in a worker; raises PhotoRefused from it, or PhotoBusy when the queue is full."""
        if self._waiting >= self._room:
            raise PhotoBusy("every photo worker is busy")
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, process_photo, data, self._settings)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
