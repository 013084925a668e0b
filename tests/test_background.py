"""ticker.background: a component's named task, stopped by cancelling it, and logged if it ever dies."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ticker.background import Background


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
