"""The live protocol, sans-I/O: parse what a reader sends, and merge catch-up with live events. No awaits here.

A message that cannot be taken is a ``Refused`` naming the field; the live session answers it with the protocol's
``error`` message (ticker.live.session), and the connection stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ticker.config import Settings
from ticker.errors import Refused
from ticker.textrules import SLUG, TooDeep, load_json

T = TypeVar("T")  # what a catch-up carries per seq: a message with its frame (ticker.live.frames)


@dataclass(frozen=True)
class Subscribe:
    incident: str
    since: int | None
    epoch: str | None


@dataclass(frozen=True)
class Unsubscribe:
    incident: str


_FIELDS = {"subscribe": {"type", "incident", "since", "epoch"}, "unsubscribe": {"type", "incident"}}


def parse(text: str | None, max_depth: int = Settings.max_json_depth) -> Subscribe | Unsubscribe:
    """One client message, validated; raises Refused (``invalid``) naming the field and the problem.

    ``max_depth`` bounds the JSON's nesting before it is parsed (``TICKER_MAX_JSON_DEPTH``; a message of ours
    nests one level): a frame of nested arrays is an error reply like any other bad message."""
    if text is None:
        raise Refused("invalid", "messages must be JSON text frames")
    try:
        message = load_json(text, max_depth)
    except TooDeep as error:
        raise Refused("invalid", f"message is {error}") from None
    except ValueError:
        raise Refused("invalid", "message is not valid JSON") from None
    if not isinstance(message, dict):
        raise Refused("invalid", "message must be a JSON object")
    kind = message.get("type")
    if kind not in _FIELDS:
        raise Refused("invalid", "type must be 'subscribe' or 'unsubscribe'", "type")
    unknown = sorted(set(message) - _FIELDS[kind])
    if unknown:
        raise Refused("invalid", f"unknown field {unknown[0]!r}", unknown[0])
    incident = message.get("incident")
    if not isinstance(incident, str) or not SLUG.match(incident):
        raise Refused("invalid", "incident must be an incident slug", "incident")
    if kind == "unsubscribe":
        return Unsubscribe(incident)
    since = message.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise Refused("invalid", "since must be a non-negative integer", "since")
    epoch = message.get("epoch")
    if epoch is not None and not isinstance(epoch, str):
        raise Refused("invalid", "epoch must be a string", "epoch")
    return Subscribe(incident, since, epoch)


def contiguous(items: Iterable[tuple[int, T]], after: int, upto: int) -> list[tuple[int, T]] | None:
    """The items with after < seq <= upto if they are all there, without a gap; otherwise None."""
    picked = [(seq, data) for seq, data in items if after < seq <= upto]
    if len(picked) != upto - after or any(seq != after + i + 1 for i, (seq, _) in enumerate(picked)):
        return None
    return picked


@dataclass
class Join(Generic[T]):
    """A reader catching up on one incident: live events are held until its history has been sent.

    ``buffer`` holds live (seq, message) pairs while history is fetched. Once history is sent, ``buffer`` is
    None and ``after`` is the last seq the reader has: it turns live when the incident's stream reaches it.
    """

    after: int
    buffer: list[tuple[int, T]] | None

    def finish(self, sent_upto: int) -> list[tuple[int, T]]:
        """History up to ``sent_upto`` has been sent: the held messages still to send, in order."""
        held, self.buffer = self.buffer or [], None
        self.after = sent_upto
        out = []
        for seq, frame in held:
            if seq > self.after:
                out.append((seq, frame))
                self.after = seq
        return out
