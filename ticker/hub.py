"""The hub: one per node. Local readers per incident, one listener on the broker, one frame per event.

The fan-out loop writes the once-built frame to each reader's sink in a plain loop: no task, queue or await
per reader (docs/benchmarks.md measures why). A reader whose unsent bytes pass the bound is closed with
4000 and resumes from its last seq on another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.frames import Frame, Opcode

from ticker.backoff import backoff_delay
from ticker.broker import Broker
from ticker.config import Settings
from ticker.errors import BrokerUnavailable, CloseCode, Refused
from ticker.events import Message, dumps
from ticker.logs import log_event
from ticker.session import Join, ProtocolError, contiguous
from ticker.store.sql import Store


class Sink(Protocol):
    """A reader's transport, as the hub sees it: it can only write and close.

    A sink bounds its own unsent bytes: one that passes the bound closes itself with 4000 (the reader resumes
    elsewhere) and its owner drops the reader from the hub, without the fan-out checking anything per write.
    """

    def writer(self) -> Callable[[bytes], object]:
        """The function that queues one frame: called once per event per reader, so the cheapest there is."""

    def close(self, code: int, reason: str) -> None: ...

    def ping(self) -> None:
        """Send a heartbeat the peer must answer."""

    def answered(self) -> bool:
        """Whether the last heartbeat was answered (a peer that never answers is gone)."""


def text_frame(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def deleted_frame(slug: str) -> bytes:
    """The message that tells a reader its incident was deleted (docs/protocol.md)."""
    return text_frame(dumps({"type": "deleted", "incident": slug}))


@dataclass(eq=False)
class Reader:
    sink: Sink
    write: Callable[[bytes], object]
    topics: dict[str, Topic] = field(default_factory=dict)
    partner: str | None = None  # the partner whose embed opened this connection (ticker.partner_readers)
    owner: int | None = None  # the newsroom login session that opened it (closed at logout: close_owned)

    def send(self, message: dict[str, Any]) -> None:
        _write(self.write, text_frame(dumps(message)))


@dataclass(eq=False)
class Topic:
    slug: str
    recent: deque[tuple[int, bytes]]
    seq: int = 0
    epoch: str = ""
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    live: dict[Reader, Callable[[bytes], object]] = field(default_factory=dict)  # reader → its write
    joining: dict[Reader, Join] = field(default_factory=dict)
    snapshot: asyncio.Future[tuple[int, bytes]] | None = None  # shared by readers that need one
    waiting: int = 0  # subscribes waiting for ``ready``
    _subscribed: tuple[int, bytes] = field(default=(-1, b""), init=False, repr=False)

    def subscribed(self) -> bytes:
        """The ``subscribed`` reply at the current position: built once per position, not once per reader."""
        if self._subscribed[0] != self.seq:
            reply = {"type": "subscribed", "incident": self.slug, "epoch": self.epoch, "seq": self.seq}
            self._subscribed = (self.seq, text_frame(dumps(reply)))
        return self._subscribed[1]

    @property
    def empty(self) -> bool:
        return not self.live and not self.joining and not self.waiting


class Hub:
    def __init__(self, settings: Settings, broker: Broker, store: Store) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store
        self.topics: dict[str, Topic] = {}
        self.readers: set[Reader] = set()
        self.listening = False  # health: is the broker answering our reads?
        self.delivered = 0
        self.catchups: Counter[str] = Counter()  # where resuming readers' history came from
        self.on_fanout: Callable[[float], object] = lambda _seconds: None  # each event's fan-out time (/metrics)
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._loads: set[asyncio.Task[None]] = set()  # topics' positions being loaded (Hub._topic)

    # Lifecycle.

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen(), name="hub-listener")
        self._heartbeat = loop.create_task(self._beat(), name="hub-heartbeat")

    async def stop(self) -> None:
        for task in (self._listener, self._heartbeat, *self._loads):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # Readers.

    @property
    def full(self) -> bool:
        return len(self.readers) >= self.settings.max_connections

    def connect(self, sink: Sink, partner: str | None = None) -> Reader:
        reader = Reader(sink, sink.writer(), partner=partner)
        self.readers.add(reader)
        return reader

    def close_owned(self, owner: int, code: int, reason: str) -> int:
        """Close the readers one login session opened (at logout); returns how many there were."""
        return self.close_where(lambda reader: reader.owner == owner, code, reason)

    def close_all(self, code: int, reason: str) -> int:
        """Close every reader (the node is stopping); returns how many there were."""
        return self.close_where(lambda reader: True, code, reason)

    def close_where(self, which: Callable[[Reader], bool], code: int, reason: str) -> int:
        """Close the readers ``which`` picks; returns how many there were."""
        picked = [reader for reader in self.readers if which(reader)]
        for reader in picked:
            reader.sink.close(code, reason)
            self.disconnect(reader)
        return len(picked)

    def forget(self, slug: str) -> int:
        """The incident was deleted: drop its topic with its recent frames and snapshot, tell each of its readers
        (``deleted``), and close the connections that followed nothing else (4101: do not reconnect). A
        subscribe still waiting for the topic, or catching up on it, finds it gone and is told too (``subscribe``).
        Returns how many readers were told."""
        topic = self.topics.pop(slug, None)
        if topic is None:
            return 0
        readers = [*topic.live, *topic.joining]
        topic.live.clear()
        topic.joining.clear()
        topic.recent.clear()
        topic.snapshot = None
        for reader in readers:
            reader.topics.pop(slug, None)
            self.tell_deleted(reader, slug)
        self.broker.wake()  # the listener stops reading its stream
        return len(readers)

    def tell_deleted(self, reader: Reader, slug: str) -> None:
        """Tell a reader the incident was deleted; a connection that follows nothing else is closed with 4101,
        so that it does not come back for it."""
        _write(reader.write, deleted_frame(slug))
        if not reader.topics:
            reader.sink.close(CloseCode.INCIDENT_DELETED, "incident deleted")
            self.disconnect(reader)

    def disconnect(self, reader: Reader) -> None:
        self.readers.discard(reader)
        for slug in list(reader.topics):
            self.unsubscribe(reader, slug)

    def unsubscribe(self, reader: Reader, slug: str) -> None:
        topic = self._leave(reader, slug)
        if topic is not None:
            self._drop_if_empty(topic)

    def _leave(self, reader: Reader, slug: str) -> Topic | None:
        """Take the reader off its subscription to ``slug``, if it has one, and return that topic, kept even if
        it is now empty. A reader subscribing again re-enters this very topic (a reader only ever holds the
        hub's topic of an incident: one with a reader on it is never dropped); dropped here, the listener would
        stop reading it and the reader would wait on it for events forever (issue #11)."""
        topic = reader.topics.pop(slug, None)
        if topic is not None:
            topic.live.pop(reader, None)
            topic.joining.pop(reader, None)
        return topic

    def _drop_if_empty(self, topic: Topic) -> None:
        if topic.empty and topic.ready.done() and self.topics.get(topic.slug) is topic:
            del self.topics[topic.slug]
            self.broker.wake()

    def subscribe_at_once(self, reader: Reader, slug: str, since: int | None, epoch: str | None) -> bool:
        """``subscribe`` without waiting, when nothing has to be fetched: the incident is known here and the
        reader is new, up to date, or behind by frames this node holds. False (nothing done): await
        ``subscribe``. Most readers take this path, so a connect costs no task."""
        topic = self.topics.get(slug)
        if topic is None or not topic.ready.done():
            return False
        history: list[tuple[int, bytes]] = []
        if since is not None:
            if epoch not in (None, topic.epoch) or not 0 <= topic.seq - since <= self.settings.max_replay:
                return False  # a snapshot, or a reader ahead of this node: subscribe() asks the store
            if since < topic.seq:
                held = contiguous(topic.recent, since, topic.seq)
                if held is None:
                    return False
                history = held
                self.catchups["node"] += 1
        self._check_room(reader, slug)
        self._leave(reader, slug)  # an old subscription to the incident: this topic, kept for the reader
        reader.topics[slug] = topic
        _write(reader.write, topic.subscribed())
        for _seq, frame in history:
            _write(reader.write, frame)
        topic.live[reader] = reader.write
        return True

    def _check_room(self, reader: Reader, slug: str) -> None:
        """Refuse a subscription too many; one to an incident the reader follows replaces the old one."""
        if slug not in reader.topics and len(reader.topics) >= self.settings.max_subscriptions:
            raise ProtocolError("too_many_subscriptions", "too many incidents on one connection", "incident")

    async def subscribe(self, reader: Reader, slug: str, since: int | None, epoch: str | None) -> None:
        """Send what the reader missed after ``since``, then live events, with no gap and no twin.

        A subscribe again to an incident the reader follows replaces its old subscription (a new ``since``, say):
        the reader leaves the topic and re-enters it at once, so it is never dropped in between."""
        self._check_room(reader, slug)  # before the wait: no query for a subscription that would be refused
        topic = await self._topic(slug)  # at once for an incident the reader follows: its topic is loaded
        if reader not in self.readers:
            self._drop_if_empty(topic)
            return
        if self.topics.get(slug) is not topic:
            raise Refused.gone("incident")  # forgotten while this subscribe waited for it: the incident was deleted
        self._leave(reader, slug)
        target = topic.seq
        join = Join(after=target if since is None else since, buffer=[])
        topic.joining[reader] = join
        reader.topics[slug] = topic
        _write(reader.write, topic.subscribed())
        try:
            if since is not None and await self._needs_snapshot(topic, since, epoch):
                sent_upto, frame = await self._snapshot(topic)
                history = [(sent_upto, frame)]
                self.catchups["snapshot"] += 1
            elif since is not None and since < target:
                history = await self._missed(topic, since, target)
                sent_upto = target
            else:
                history, sent_upto = [], join.after
        except BaseException as exc:
            if topic.joining.get(reader) is join:  # not a newer subscribe's place, taken while we fetched
                self.unsubscribe(reader, slug)
            elif isinstance(exc, Exception) and self.topics.get(slug) is not topic:
                return  # the incident was deleted meanwhile, its events with it: forget told the reader
            raise
        if topic.joining.get(reader) is not join:
            return  # gone, or resubscribed, while we fetched
        for _seq, frame in history:
            _write(reader.write, frame)
        for _seq, frame in join.finish(sent_upto):
            _write(reader.write, frame)
        if join.after == topic.seq:
            del topic.joining[reader]
            topic.live[reader] = reader.write
        # else: the reader is ahead of this node's stream; it turns live when the stream reaches join.after.

    async def _snapshot(self, topic: Topic) -> tuple[int, bytes]:
        """The incident's state as one frame. Readers asking at once share one query, and a snapshot is
        reused until the incident moves on, so a storm of far-behind readers asks the database once."""
        cached = topic.snapshot
        if cached is None or (cached.done() and not cached.cancelled() and cached.result()[0] < topic.seq):
            cached = topic.snapshot = asyncio.ensure_future(self._load_snapshot(topic.slug))
        try:
            return await asyncio.shield(cached)
        except Exception:
            if topic.snapshot is cached:
                topic.snapshot = None
            raise

    async def _load_snapshot(self, slug: str) -> tuple[int, bytes]:
        snapshot = await self.store.snapshot(slug)
        self.catchups["snapshot_queries"] += 1
        return snapshot["seq"], text_frame(dumps({"type": "snapshot", "incident": slug, **_state(snapshot)}))

    async def _needs_snapshot(self, topic: Topic, since: int, epoch: str | None) -> bool:
        """Another epoch, too far behind, or ahead of what the store has ever committed."""
        if epoch not in (None, topic.epoch) or topic.seq - since > self.settings.max_replay:
            return True
        return since > topic.seq and since > (await self.store.position(topic.slug))[0]

    # Catch-up sources, cheapest first.

    async def _missed(self, topic: Topic, since: int, target: int) -> list[tuple[int, bytes]]:
        recent = contiguous(topic.recent, since, target)
        if recent is not None:
            self.catchups["node"] += 1
            return recent
        try:
            held = await self.broker.history(topic.slug, since, target - since)
        except BrokerUnavailable:
            held = []
        found = contiguous(((m.seq, m.payload) for m in held), since, target)
        self.catchups["broker" if found is not None else "store"] += 1
        if found is None:
            stored = await self.store.events_after(topic.slug, since, target)
            found = contiguous(((m.seq, m.payload) for m in stored), since, target)
        if found is None:
            raise RuntimeError(f"events {since + 1}..{target} of {topic.slug} are missing from the store")
        return [(seq, text_frame(payload)) for seq, payload in found]

    async def _topic(self, slug: str) -> Topic:
        """The incident's topic, its position loaded. The load is a task of its own, so one waiting subscribe
        cancelled (the node stopping, say) neither cancels it nor fails the others waiting for it."""
        topic = self.topics.get(slug)
        if topic is None:
            topic = self.topics[slug] = Topic(slug, deque(maxlen=self.settings.node_history))
            load = asyncio.get_running_loop().create_task(self._load(topic), name=f"hub-load-{slug}")
            self._loads.add(load)
            load.add_done_callback(self._loads.discard)
        topic.waiting += 1  # keeps it from being dropped until this reader has joined (or is gone)
        try:
            await asyncio.shield(topic.ready)
        except BaseException:
            topic.waiting -= 1
            self._drop_if_empty(topic)  # the last reader waiting for it was lost
            raise
        topic.waiting -= 1
        return topic

    async def _load(self, topic: Topic) -> None:
        try:
            topic.seq, topic.epoch = await self.store.position(topic.slug)
        except BaseException as exc:
            if self.topics.get(topic.slug) is topic:
                del self.topics[topic.slug]
            topic.ready.set_exception(exc)
            topic.ready.exception()  # retrieved: the waiters get it through shield
            if not isinstance(exc, Exception):
                raise
            return
        topic.ready.set_result(None)
        self.broker.wake()
        self._drop_if_empty(topic)  # every reader that asked for it was lost while it loaded

    async def _beat(self) -> None:
        """One loop pings every reader; one that has not answered within the timeout is dropped."""
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            pinged = [reader for reader in self.readers]
            for reader in pinged:
                reader.sink.ping()
            await asyncio.sleep(self.settings.ping_timeout)
            for reader in pinged:
                if reader in self.readers and not reader.sink.answered():
                    log_event("reader_gone", reason="no answer to ping")
                    reader.sink.close(CloseCode.SERVER_ERROR, "keepalive ping timeout")
                    self.disconnect(reader)

    # The listener and the fan-out.

    async def _listen(self) -> None:
        failures = 0
        while True:
            positions = {slug: t.seq for slug, t in self.topics.items() if t.ready.done()}
            try:
                if not self.listening:
                    await self.broker.ping()  # healthy at once, not after the first blocking read
                    if failures:
                        await self._reconcile()
                    self.listening = True
                    log_event("broker_listening", broker=self.broker.describe(), topics=len(positions))
                messages = await self.broker.read(positions, timeout=self.settings.broker_block_seconds)
                for message in messages:
                    await self._receive(message)
            except Exception as exc:  # the broker (or the store, filling a gap) is away: try again
                self.listening = False
                failures += 1
                delay = backoff_delay(failures)
                cause = "broker" if isinstance(exc, BrokerUnavailable) else "store"
                log_event("listener_failed", logging.WARNING, cause=cause, error=repr(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            failures = 0

    async def _reconcile(self) -> None:
        """After an outage, catch every incident up from the store: events the broker took but lost (a Redis
        restarted without persistence) before this node read them would otherwise wait for the next event."""
        for topic in list(self.topics.values()):
            if topic.ready.done():
                for m in await self.store.events_after(topic.slug, topic.seq):
                    if m.seq == topic.seq + 1:
                        self._dispatch(topic, m.seq, text_frame(m.payload))

    async def _receive(self, message: Message) -> None:
        topic = self.topics.get(message.topic)
        if topic is None or not topic.ready.done() or message.seq <= topic.seq:
            return
        if message.seq > topic.seq + 1:
            # The broker lost events (restarted empty, flushed, trimmed): the store has them.
            missing = await self.store.events_after(topic.slug, topic.seq, message.seq - 1)
            log_event(
                "broker_gap",
                logging.WARNING,
                incident=topic.slug,
                after=topic.seq,
                upto=message.seq - 1,
                filled=len(missing),
            )
            for m in missing:
                if m.seq == topic.seq + 1:
                    self._dispatch(topic, m.seq, text_frame(m.payload))
            if message.seq != topic.seq + 1:
                return  # a hole the store cannot fill either: wait for the relay rather than skip
        self._dispatch(topic, message.seq, text_frame(message.payload))

    def _dispatch(self, topic: Topic, seq: int, frame: bytes) -> None:
        topic.seq = seq
        topic.recent.append((seq, frame))
        started = time.perf_counter()  # per event, not per reader: two clock reads and one observation
        for write in topic.live.values():
            try:  # noqa: SIM105 (try costs nothing per reader when nothing is raised; a with-statement does)
                write(frame)
            except RuntimeError:
                pass  # its connection was lost a moment ago: the loss drops the reader
        self.on_fanout(time.perf_counter() - started)
        self.delivered += len(topic.live)
        if topic.joining:
            for reader in self._advance_joining(topic, seq, frame):
                log_event("reader_too_slow", incident=topic.slug)
                reader.sink.close(CloseCode.SLOW_READER, "too slow: resume from your last seq")
                self.disconnect(reader)

    def _advance_joining(self, topic: Topic, seq: int, frame: bytes) -> list[Reader]:
        slow = []
        for reader, join in list(topic.joining.items()):
            if join.buffer is not None:
                join.buffer.append((seq, frame))
                if len(join.buffer) > self.settings.join_buffer_events:
                    slow.append(reader)
            elif seq > join.after:
                del topic.joining[reader]
                _write(reader.write, frame)
                topic.live[reader] = reader.write
        return slow

    def stats(self) -> dict[str, Any]:
        return {
            "readers": len(self.readers),
            "incidents": len(self.topics),
            "listening": self.listening,
            "delivered": self.delivered,
            "catchups": dict(self.catchups),
        }


def _state(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": snapshot["seq"],
        "data": {"incident": snapshot["incident"], "entries": snapshot["entries"]},
    }


def _write(write: Callable[[bytes], object], frame: bytes) -> None:
    with contextlib.suppress(RuntimeError):  # the connection was lost a moment ago: the loss drops the reader
        write(frame)
