"""The node's one listener on the broker: it reads every incident this node follows, from each one's position.

An event the broker skipped (it restarted empty, was flushed or trimmed) is filled from the store before the
next one goes out; after an outage every incident is caught up from the store, since events the broker took
but lost before this node read them would otherwise wait for the next event. Each event is framed once, here,
and handed to the hub's fan-out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from ticker.background import Background
from ticker.backoff import backoff_delay
from ticker.broker import Broker
from ticker.config import Settings
from ticker.errors import BrokerUnavailable
from ticker.events import Message
from ticker.live.frames import Framed, framed
from ticker.live.topic import Topic
from ticker.logs import log_event
from ticker.store.sql import Store

Dispatch = Callable[[Topic, int, Framed], None]  # the fan-out of one event (Hub.dispatch)


class Listener:
    def __init__(
        self, settings: Settings, broker: Broker, store: Store, topics: Mapping[str, Topic], dispatch: Dispatch
    ) -> None:
        self.block_seconds = settings.broker_block_seconds
        self.broker = broker
        self.store = store
        self.topics = topics
        self.dispatch = dispatch
        self.listening = False  # health: is the broker answering our reads?
        self._task = Background("hub-listener", self._listen)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

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
                messages = await self.broker.read(positions, timeout=self.block_seconds)
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
        """After an outage, catch every incident up from the store."""
        for topic in list(self.topics.values()):
            if topic.ready.done():
                for m in await self.store.events_after(topic.slug, topic.seq):
                    if m.seq == topic.seq + 1:
                        self.dispatch(topic, m.seq, framed(m.payload, m.seq))

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
                    self.dispatch(topic, m.seq, framed(m.payload, m.seq))
            if message.seq != topic.seq + 1:
                return  # a hole the store cannot fill either: wait for the relay rather than skip
        self.dispatch(topic, message.seq, framed(message.payload, message.seq))
