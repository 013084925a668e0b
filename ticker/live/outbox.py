"""Coalesced writes: what a reader is sent in one turn of the event loop goes out at its end, in one write.

The fan-out (``Hub.dispatch``) hands the outbox each event's frame for an incident's live readers, and a
connection holds a reader's own messages (a reply, its catch-up: ``LiveConnection.hold``). Once per turn (one
``loop.call_soon``) the outbox writes it all. In the common case (one incident's events, nothing else pending) its
frames are joined once and written to each live reader straight from a plain loop, as the fan-out did before;
otherwise (several incidents, or messages of a reader's own) each connection gathers its bytes and writes them
at once. A burst of events reaches a reader in one write (one syscall) instead of one per event.

Order: a reader's bytes go out in the order they were given. Whatever is written to a reader outside the outbox
(a close frame, a ping, a reply to the peer's ping, a message of its own while events are pending) is preceded
by ``settle``, which writes everything pending now; so is a change to who follows an incident with pending
events (``Topic.go_live``, ``Topic.leave``): a reader going live does not get an event its catch-up had, and one
leaving gets what was dispatched before it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ticker.live.topic import Reader

Write = Callable[[bytes], object]


class Holder(Protocol):
    def release(self) -> None:
        """Write the bytes held this turn in one write."""


class Fanned:
    """One incident's events this turn: their frames, for the readers live on it when the turn ends."""

    __slots__ = ("frames", "live", "observe")

    def __init__(self, live: Mapping[Reader, Write], frame: bytes, observe: Callable[[float], object]) -> None:
        self.live = live
        self.frames = [frame]
        self.observe = observe

    def data(self) -> bytes:
        frames = self.frames
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def write(self) -> None:
        """Every live reader's transport, straight from the loop: nothing per reader but the call."""
        data = self.data()
        started = time.perf_counter()
        for write in self.live.values():
            try:  # noqa: SIM105 (try costs nothing per reader when nothing is raised; a with-statement does)
                write(data)
            except RuntimeError:
                pass  # its connection was lost a moment ago: the loss drops the reader
        self.observed(time.perf_counter() - started)

    def hold(self) -> None:
        """Each live reader's connection gathers the frames with its other bytes of this turn."""
        data = self.data()
        started = time.perf_counter()
        for reader, write in self.live.items():
            hold = reader.hold
            if hold is None:  # a sink that writes at once
                with contextlib.suppress(RuntimeError):
                    write(data)
            else:
                hold(data)
        self.observed(time.perf_counter() - started)

    def observed(self, seconds: float) -> None:
        share = seconds / len(self.frames)  # one observation per event, as the metric counts events
        for _ in self.frames:
            self.observe(share)


class Outbox:
    """The event loop's pending writes to readers, written once per turn."""

    __slots__ = ("_held", "_scheduled", "fanned")

    def __init__(self) -> None:
        self.fanned: dict[object, Fanned] = {}  # incident (its Topic) → its events this turn
        self._held: list[Holder] = []  # connections holding bytes of their own this turn
        self._scheduled = False

    def fan_out(
        self, topic: object, live: Mapping[Reader, Write], frame: bytes, observe: Callable[[float], object]
    ) -> None:
        """An event's frame for the readers live on ``topic`` (``live``: reader → its transport's write)."""
        fanned = self.fanned.get(topic)
        if fanned is None:
            self.fanned[topic] = Fanned(live, frame, observe)
            self._schedule()
        else:
            fanned.frames.append(frame)

    def held(self, connection: Holder) -> None:
        """``connection`` holds bytes to write at the end of the turn (called on its first this turn). It
        calls ``flush`` first when events are pending (``fanned``): they were dispatched before its bytes."""
        self._held.append(connection)
        self._schedule()

    def pending(self, topic: object) -> bool:
        return topic in self.fanned

    def settle(self) -> None:
        """Write what is pending now: something is about to be written outside the outbox, or who follows an
        incident is about to change."""
        if self.fanned or self._held:
            self.flush()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)  # not kept: the loop may go

    def flush(self) -> None:
        fanned, held = self.fanned, self._held
        self.fanned, self._held = {}, []
        if len(fanned) == 1 and not held:
            for one in fanned.values():
                one.write()
        elif fanned or held:
            self._scheduled = True  # what the gathering holds is written below, not in another turn
            for one in fanned.values():
                one.hold()
            held += self._held
            self._held = []
            for connection in held:
                connection.release()
        self._scheduled = False


_OUTBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Outbox] = weakref.WeakKeyDictionary()


def outbox() -> Outbox:
    """The running event loop's outbox (one per loop: every hub and connection on it share it)."""
    loop = asyncio.get_running_loop()
    box = _OUTBOXES.get(loop)
    if box is None:
        box = _OUTBOXES[loop] = Outbox()
    return box
