"""The hub: one per node. Its readers and the incidents they follow, subscribe and join, the fan-out, the
heartbeat. Catch-up (ticker.live.catchup) and the broker listener (ticker.live.listener) are its parts.

The fan-out hands each event's once-built frame to the loop's outbox (ticker.live.outbox), which writes a turn's
frames to every live reader's sink in a plain loop at the end of the turn, one write per reader: no task, queue
or await per reader (docs/benchmarks.md measures why). A reader whose unsent bytes pass the bound is closed with
4000 and resumes from its last seq on another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from ticker.background import Background
from ticker.broker import Broker
from ticker.config import Settings
from ticker.errors import CloseCode, Refused
from ticker.live.catchup import CatchUp
from ticker.live.frames import Framed, deleted
from ticker.live.listener import Listener
from ticker.live.outbox import outbox
from ticker.live.protocol import Join
from ticker.live.topic import Reader, Sink, Topic
from ticker.logs import log_event
from ticker.store.sql import Store


class Hub:
    def __init__(self, settings: Settings, broker: Broker, store: Store) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store
        self.topics: dict[str, Topic] = {}
        self.readers: set[Reader] = set()
        self.delivered = 0
        self.on_fanout: Callable[[float], object] = lambda _seconds: None  # each event's write time (/metrics)
        self.catchup = CatchUp(settings, broker, store)
        self.catchups = self.catchup.counts  # where resuming readers' history came from
        self.listener = Listener(settings, broker, store, self.topics, self.dispatch)
        self._heartbeat = Background("hub-heartbeat", self._beat)
        self._loads: set[asyncio.Task[None]] = set()  # topics' positions being loaded (Hub._topic)

    # Lifecycle.

    def start(self) -> None:
        self.listener.start()
        self._heartbeat.start()

    async def stop(self) -> None:
        await self.listener.stop()
        await self._heartbeat.stop()
        for load in list(self._loads):
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load

    @property
    def listening(self) -> bool:
        """Health: is the broker answering our reads?"""
        return self.listener.listening

    # Readers.

    @property
    def full(self) -> bool:
        return len(self.readers) >= self.settings.max_connections

    def connect(
        self,
        sink: Sink,
        partner: str | None = None,
        deliver: Callable[[Framed], object] | None = None,
        hold: Callable[[bytes], object] | None = None,
    ) -> Reader:
        """A new reader. ``deliver``: its sink takes messages whole (an SSE stream), not as frames; ``hold``:
        its sink gathers a turn's messages into one write (a websocket's connection: ticker.live.outbox)."""
        reader = Reader(sink, sink.writer(), deliver, hold, partner=partner)
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
        readers = list(topic.followers())
        for reader in readers:
            topic.leave(reader)
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
        reader.put(deleted(slug))
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
            topic.leave(reader)
        return topic

    def _drop_if_empty(self, topic: Topic) -> None:
        if topic.empty and topic.ready.done() and self.topics.get(topic.slug) is topic:
            del self.topics[topic.slug]
            self.broker.wake()

    # Subscribe and join.

    def subscribe_at_once(self, reader: Reader, slug: str, since: int | None, epoch: str | None) -> bool:
        """``subscribe`` without waiting, when nothing has to be fetched: the incident is known here and the
        reader is new, up to date, or behind by frames this node holds. False (nothing done): await
        ``subscribe``. Most readers take this path, so a connect costs no task."""
        topic = self.topics.get(slug)
        if topic is None or not topic.ready.done():
            return False
        history = self.catchup.at_once(topic, since, epoch)
        if history is None:
            return False  # a fetch, a snapshot, or a reader ahead of this node: subscribe() asks the store
        self._check_room(reader, slug)
        self._leave(reader, slug)  # an old subscription to the incident: this topic, kept for the reader
        reader.topics[topic.slug] = topic  # the topic's string, not one per reader
        reader.put(topic.subscribed())
        for _seq, message in history:
            reader.put(message)
        topic.go_live(reader)
        return True

    def _check_room(self, reader: Reader, slug: str) -> None:
        """Refuse a subscription too many; one to an incident the reader follows replaces the old one."""
        if slug not in reader.topics and len(reader.topics) >= self.settings.max_subscriptions:
            raise Refused("full", "too many incidents on one connection", "incident")

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
        join: Join[Framed] = Join(after=target if since is None else since, buffer=[])
        topic.joining[reader] = join
        reader.topics[topic.slug] = topic  # the topic's string, not one per reader
        reader.put(topic.subscribed())
        try:
            history, sent_upto = await self.catchup.history(topic, since, epoch, target)
        except BaseException as exc:
            if topic.joining.get(reader) is join:  # not a newer subscribe's place, taken while we fetched
                self.unsubscribe(reader, slug)
            elif isinstance(exc, Exception) and self.topics.get(slug) is not topic:
                return  # the incident was deleted meanwhile, its events with it: forget told the reader
            raise
        if topic.joining.get(reader) is not join:
            return  # gone, or resubscribed, while we fetched
        for _seq, message in history:
            reader.put(message)
        for _seq, message in join.finish(sent_upto):
            reader.put(message)
        if join.after == topic.seq:
            del topic.joining[reader]
            topic.go_live(reader)
        # else: the reader is ahead of this node's stream; it turns live when the stream reaches join.after.

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

    # The fan-out.

    def dispatch(self, topic: Topic, seq: int, message: Framed) -> None:
        """The incident's next event, to each of its readers (the listener calls it, in seq order)."""
        topic.seq = seq
        topic.recent.append((seq, message))
        outbox().fan_out(topic, topic.live, message.frame, self.on_fanout)  # written at the end of the loop's turn
        for deliver in topic.streams.values():
            deliver(message)
        self.delivered += len(topic.live) + len(topic.streams)
        if topic.joining:
            for reader in self._advance_joining(topic, seq, message):
                log_event("reader_too_slow", incident=topic.slug)
                reader.sink.close(CloseCode.SLOW_READER, "too slow: resume from your last seq")
                self.disconnect(reader)

    def _advance_joining(self, topic: Topic, seq: int, message: Framed) -> list[Reader]:
        slow = []
        for reader, join in list(topic.joining.items()):
            if join.buffer is not None:
                join.buffer.append((seq, message))
                if len(join.buffer) > self.settings.join_buffer_events:
                    slow.append(reader)
            elif seq > join.after:
                del topic.joining[reader]
                reader.put(message)
                topic.go_live(reader)
        return slow

    # The heartbeat.

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

    def stats(self) -> dict[str, Any]:
        return {
            "readers": len(self.readers),
            "incidents": len(self.topics),
            "listening": self.listening,
            "delivered": self.delivered,
            "catchups": dict(self.catchups),
        }
