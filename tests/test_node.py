"""ticker.node: a node's parts start in order and stop in reverse, and a part that fails to start stops the
parts already started, in reverse, before the failure reaches the server."""

from __future__ import annotations

import pytest

from ticker.config import Settings
from ticker.metrics import Metrics
from ticker.node import Node

PARTS = ("hub", "relay", "presence", "notices", "tips", "sources_poller", "push_sender", "partner_readers", "nodes")


def recorded(node: Node, calls: list[str], failing: str | None = None) -> None:
    """Each part's start and stop only note that they ran (``failing``'s start raises)."""
    for name in PARTS:
        part = getattr(node, name)

        def start(name: str = name) -> None:
            calls.append(f"start {name}")
            if name == failing:
                raise RuntimeError(f"{name} cannot start")

        async def stop(name: str = name) -> None:
            calls.append(f"stop {name}")

        part.start, part.stop = start, stop


async def test_the_parts_start_in_order_and_stop_in_reverse(sqlite_url: str) -> None:
    node, calls = Node(Settings(database_url=sqlite_url), Metrics()), list[str]()
    recorded(node, calls)
    async with node.running():
        assert calls == [f"start {name}" for name in PARTS]
    assert calls[len(PARTS) :] == [f"stop {name}" for name in reversed(PARTS)]


async def test_a_part_that_fails_to_start_stops_the_started_ones_in_reverse(sqlite_url: str) -> None:
    node, calls = Node(Settings(database_url=sqlite_url), Metrics()), list[str]()
    recorded(node, calls, failing="push_sender")
    with pytest.raises(RuntimeError, match="push_sender cannot start"):
        async with node.running():
            pytest.fail("the node must not run with a part that did not start")
    started = PARTS[: PARTS.index("push_sender")]
    assert calls == [*(f"start {name}" for name in started), "start push_sender"] + [
        f"stop {name}" for name in reversed(started)
    ]
