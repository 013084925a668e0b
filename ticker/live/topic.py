"""A node's readers and the incidents they follow, as the hub sees them.

A ``Sink`` is a reader's transport: it can only write and close. A ``Reader`` is one connection: its sink and
what it follows. A ``Topic`` is one incident on this node: its position, its recent events and its readers, live
or still catching up (``joining``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

from ticker.live.frames import Framed, framed_message
from ticker.live.outbox import outbox
from ticker.live.protocol import Join


class Sink(Protocol):
    """A reader's transport, as the hub sees it: it can only write and close.

    A sink bounds its own unsent bytes: one that passes the bound closes itself with 4000 (the reader resumes
    elsewhere) and its owner drops the reader from the hub, without the fan-out checking anything per write.
    """

    def writer(self) -> Callable[[bytes], object]:
        """The function that queues bytes (whole frames): the outbox calls it for every live reader once per turn
        of the loop with that turn's frames, so the cheapest there is."""

    def close(self, code: int, reason: str) -> None: ...

    def ping(self) -> None:
        """Send a heartbeat the peer must answer."""

    def answered(self) -> bool:
        """Whether the last heartbeat was answered (a peer that never answers is gone)."""


@dataclass(slots=True, eq=False)
class Reader:
    sink: Sink
    write: Callable[[bytes], object]
    # A sink that writes each message its own way (an SSE stream) is handed messages whole, not their frames.
    deliver: Callable[[Framed], object] | None = None
    # A sink that gathers what it is sent in a turn of the event loop into one write (a websocket's connection:
    # ticker.live.outbox); None: its messages are written at once.
    hold: Callable[[bytes], object] | None = None
    topics: dict[str, Topic] = field(default_factory=dict)
    partner: str | None = None  # the partner whose embed opened this connection (ticker.partner_readers)
    owner: int | None = None  # the newsroom login session that opened it (closed at logout: close_owned)

    def put(self, message: Framed) -> None:
        """One message for this reader alone (a reply, its catch-up), after what it was sent before; the fan-out
        writes to its readers itself."""
        if self.deliver is not None:
            self.deliver(message)
        elif self.hold is not None:
            self.hold(message.frame)
        else:
            outbox().settle()
            with contextlib.suppress(RuntimeError):  # the connection was lost a moment ago: its loss drops the reader
                self.write(message.frame)

    def send(self, message: dict[str, Any]) -> None:
        self.put(framed_message(message))


@dataclass(eq=False)
class Topic:
    slug: str
    recent: deque[tuple[int, Framed]]  # this node's latest events, for readers that resume from one of them
    seq: int = 0
    epoch: str = ""
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    live: dict[Reader, Callable[[bytes], object]] = field(default_factory=dict)  # reader → its write
    streams: dict[Reader, Callable[[Framed], object]] = field(default_factory=dict)  # reader → its deliver
    joining: dict[Reader, Join[Framed]] = field(default_factory=dict)
    snapshot: asyncio.Future[tuple[int, Framed]] | None = None  # shared by readers that need one
    waiting: int = 0  # subscribes waiting for ``ready``
    _subscribed: tuple[int, Framed] | None = field(default=None, init=False, repr=False)

    def subscribed(self) -> Framed:
        """The ``subscribed`` reply at the current position: built once per position, not once per reader."""
        if self._subscribed is None or self._subscribed[0] != self.seq:
            reply = {"type": "subscribed", "incident": self.slug, "epoch": self.epoch, "seq": self.seq}
            self._subscribed = (self.seq, framed_message(reply))
        return self._subscribed[1]

    def go_live(self, reader: Reader) -> None:
        """From now on the reader gets each event as the fan-out writes it."""
        self._settle()  # events dispatched before: the reader's catch-up had them
        if reader.deliver is None:
            self.live[reader] = reader.write
        else:
            self.streams[reader] = reader.deliver

    def leave(self, reader: Reader) -> None:
        if reader in self.live:
            self._settle()  # events dispatched while it followed
        self.live.pop(reader, None)
        self.streams.pop(reader, None)
        self.joining.pop(reader, None)

    def _settle(self) -> None:
        box = outbox()
        if box.pending(self):
            box.settle()

    def followers(self) -> Iterator[Reader]:
        """Its readers, live or joining."""
        return chain(self.live, self.streams, self.joining)

    @property
    def subscriptions(self) -> int:
        return len(self.live) + len(self.streams) + len(self.joining)

    @property
    def empty(self) -> bool:
        return not self.subscriptions and not self.waiting
