"""The bytes a reader is sent: the only module that builds them.

Each message goes to readers as one unmasked websocket text frame (RFC 6455), built once per message on a node
and written as it is to every websocket. A ``Framed`` keeps the message's JSON payload and its seq beside the
frame, so an SSE stream (ticker.live.sse) builds its event from them instead of taking the frame apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from websockets.frames import Frame, Opcode

from ticker.events import dumps

PING = Frame(Opcode.PING, b"tk").serialize(mask=False)  # the heartbeat, the same bytes for every reader


@dataclass(slots=True, eq=False)
class Framed:
    """One message for readers, encoded and framed once, and not changed after. ``seq`` is the position it brings
    a reader to (an event or a snapshot: an SSE stream's event id), None for the rest. Compared and hashed by
    identity: cheap to memoise. (Not a frozen dataclass: its __init__ would cost twice as much, once per event.)"""

    seq: int | None
    payload: bytes
    frame: bytes


def text_frame(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def framed(payload: bytes, seq: int | None = None) -> Framed:
    return Framed(seq, payload, text_frame(payload))


def framed_message(message: dict[str, Any], seq: int | None = None) -> Framed:
    """A message of the protocol (docs/protocol.md), encoded and framed."""
    return framed(dumps(message), seq)


def deleted(slug: str) -> Framed:
    """The message that tells a reader its incident was deleted (docs/protocol.md)."""
    return framed_message({"type": "deleted", "incident": slug})


def payload(frame: bytes) -> bytes:
    """The payload of a text frame built here, for a message that was passed on as a bare frame."""
    size = frame[1] & 0x7F
    return frame[2 + {126: 2, 127: 8}.get(size, 0) :]
