"""A reader's messages once its connection is open: subscribe and unsubscribe, handled one at a time, in order.

Whichever way the connection came in (ticker.live.gate), its messages arrive in ``LiveSession.received``. A
refusal is answered here, the one place that turns a ``Refused`` into the protocol's ``error`` message; the
connection stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from ticker.errors import CloseCode, Code, Refused
from ticker.http.origins import Admission
from ticker.live.protocol import Subscribe, Unsubscribe, parse
from ticker.live.topic import Reader
from ticker.logs import log_event, raised_at, session_closed, session_started

if TYPE_CHECKING:
    from ticker.live.connection import LiveConnection
    from ticker.live.gate import Lane

Incoming = Subscribe | Unsubscribe | Refused  # a reader's message, parsed once: what it asks, or why not

# The refusals a reader is answered with an ``error`` message, and the codes that message names
# (docs/protocol.md). Any other refusal means the node cannot serve the subscribe now (1013, like a failure).
ERROR_CODES: dict[Code, str] = {
    "invalid": "bad_message",
    "full": "too_many_subscriptions",
    "origin_not_allowed": "origin_not_allowed",
    "not_found": "unknown_incident",
}


def error_reply(refused: Refused) -> dict[str, Any] | None:
    """A refusal as the protocol's ``error`` message; None for one the protocol has no answer for."""
    code = ERROR_CODES.get(refused.code)
    if code is None:
        return None
    message, field = refused.message, refused.field
    if code == "unknown_incident":  # the store's words are about a row; the reader asked for an incident
        message, field = "no such incident", "incident"
    reply: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field is not None:
        reply["field"] = field
    return reply


class LiveSession:
    """A reader's messages after the handshake: subscribe and unsubscribe, handled in order."""

    __slots__ = ("admitted", "hub", "inbox", "node", "owner", "reader", "since", "task", "way")  # one per reader

    def __init__(self, node: Lane, admitted: Admission, owner: int | None = None, way: str = "app") -> None:
        self.hub = node.hub
        self.way = way  # direct (ticker.live.direct) or app (starlette's handshake): the counts in /healthz
        self.since = session_started()  # 0.0 unless its end is logged (DEBUG)
        self.node = node
        self.admitted = admitted
        self.owner = owner
        self.reader: Reader | None = None
        self.inbox: deque[Incoming] | None = None  # messages waiting for the one before: made when one must wait
        self.task: asyncio.Task[None] | None = None

    def start(self, connection: LiveConnection) -> None:
        """The connection is open: the reader joins the hub (tagged with the partner whose embed opened it)."""
        partner = self.node.partner_readers.opened(self.admitted.partner)
        self.reader = self.hub.connect(connection, partner, hold=connection.hold)
        self.reader.owner = self.owner

    def received(self, text: str | None) -> None:
        reader = self.reader
        if reader is None:
            return
        request = _parsed(text, self.node.settings.max_json_depth)
        if self.task is None and self._at_once(reader, request):
            return
        if self._flooded(request):
            reader.sink.close(CloseCode.POLICY_VIOLATION, "too many messages at once")
            return
        if self.inbox is None:
            self.inbox = deque()
        self.inbox.append(request)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def _flooded(self, request: Incoming) -> bool:
        """Whether waiting ``request`` would pass the bound on a reader's waiting messages.

        What the protocol allows never counts: a page opens with one subscribe per card, up to
        ``max_subscriptions`` sent together, and they all wait behind the first one that needs a fetch. So one
        waiting subscribe per incident, for up to that many incidents, is free; ``ws_max_pending_messages`` more
        (any kind) may wait besides. The inbox is small (that bound), so counting it per message costs nothing."""
        settings = self.node.settings
        inbox = self.inbox or ()
        incidents = {r.incident for r in (*inbox, request) if isinstance(r, Subscribe)}
        return len(inbox) >= min(len(incidents), settings.max_subscriptions) + settings.ws_max_pending_messages

    def lost(self) -> None:
        """The connection is gone: the reader leaves the hub. A subscribe still running is left to finish (it
        sends nothing to a reader that left) rather than cancelled half-way through a database query or a Redis
        command, and whatever else the reader had sent is dropped."""
        self.inbox = None
        if self.reader is not None:
            self.hub.disconnect(self.reader)
            if self.since:  # the close code: sent, else received; 1006 without a close frame
                code = getattr(self.reader.sink, "close_code", None)
                session_closed(self.since, self.way, code, self.reader.partner)
                self.since = 0.0  # once: lost() may be called again

    def _at_once(self, reader: Reader, request: Incoming) -> bool:
        """Handle a message that needs no waiting (all but a subscribe that must fetch); False: queue it."""
        if isinstance(request, Refused):
            return self._answered(reader, request, None)
        try:
            if not isinstance(request, Subscribe):
                self.hub.unsubscribe(reader, request.incident)
                return True
            self.admitted.check_subscribe(request.incident)
            return self.hub.subscribe_at_once(reader, request.incident, request.since, request.epoch)
        except Refused as refused:
            if not self._answered(reader, refused, request.incident):
                raise
            return True

    async def _drain(self) -> None:
        try:
            while self.inbox and self.reader is not None:
                await self._handle(self.reader, self.inbox.popleft())
        finally:
            self.task = None
            if not self.inbox:
                self.inbox = None

    async def _handle(self, reader: Reader, request: Incoming) -> None:
        if isinstance(request, Refused):
            self._answered(reader, request, None)
            return
        try:
            if isinstance(request, Subscribe):
                self.admitted.check_subscribe(request.incident)
                await self.hub.subscribe(reader, request.incident, request.since, request.epoch)
            else:
                self.hub.unsubscribe(reader, request.incident)
        except Exception as exc:
            if isinstance(exc, Refused) and self._answered(reader, exc, request.incident):
                return
            # The store is away, say: the reader comes back and resumes (1013).
            log_event("subscribe_failed", logging.WARNING, error=repr(exc), at=raised_at(exc))
            self.inbox = None
            reader.sink.close(CloseCode.TRY_AGAIN_LATER, "try again later")

    def _answered(self, reader: Reader, refused: Refused, incident: str | None) -> bool:
        """Answer a refusal as the protocol does: a deleted incident as the hub tells its readers (``deleted``),
        the rest with an ``error`` message. False, with nothing sent, for one the protocol has no answer for."""
        if refused.code == "gone" and incident is not None:
            self.hub.tell_deleted(reader, incident)
            return True
        reply = error_reply(refused)
        if reply is not None:
            reader.send(reply)
        return reply is not None


def _parsed(text: str | None, max_depth: int) -> Incoming:
    try:
        return parse(text, max_depth)
    except Refused as refused:
        return refused.with_traceback(None)  # it may wait in the inbox: without the frames of its parse
