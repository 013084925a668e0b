"""ticker.background: a component's named task, stopped by cancelling it, and logged if it ever dies."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from ticker.background import Background, woken


async def test_stop_cancels_the_task_and_waits_for_its_cleanup() -> None:
    steps: list[str] = []

    async def run() -> None:
        steps.append("started")
        try:
            await asyncio.Event().wait()
        finally:
            steps.append("cleaned up")

    task = Background("waiter", run)
    await task.stop()  # never started: nothing to do
    task.start()
    await asyncio.sleep(0)
    await task.stop()
    assert steps == ["started", "cleaned up"]
    await task.stop()  # stopped twice: still nothing raised


async def test_a_task_that_dies_is_one_error_line(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        raise RuntimeError("a bug")

    task = Background("doomed", run)
    task.start()
    await asyncio.sleep(0)
    await task.stop()
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "background_failed"]
    assert record.levelno == logging.ERROR
    assert record.fields["task"] == "doomed"  # type: ignore[attr-defined]
    assert "a bug" in record.fields["error"]  # type: ignore[attr-defined]


async def test_a_wait_cancelled_as_its_event_is_set_is_cancelled() -> None:
    """A loop waiting in ``woken`` and cancelled in the very turn its event is set ends (on Python 3.11,
    ``asyncio.wait_for`` returned instead, and the loop ran on: an SSE stream outlived its reader)."""
    for waits in (woken, lambda event, seconds: asyncio.wait_for(event.wait(), seconds)):
        event = asyncio.Event()
        waiter = asyncio.ensure_future(waits(event, 30))
        await asyncio.sleep(0)  # the waiter is waiting
        event.set()
        waiter.cancel()
        try:
            await waiter
            outcome = "returned"
        except asyncio.CancelledError:
            outcome = "cancelled"
        if waits is woken:
            assert outcome == "cancelled"
        elif sys.version_info < (3, 12):  # the defect woken is there for (3.12 rewrote wait_for over timeout)
            assert outcome == "returned"


async def test_woken_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 30) is True
