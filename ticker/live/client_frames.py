"""The frames a reader sends, taken from its byte stream (RFC 6455, section 5): a function, not an object.

A reader sends few frames (a subscribe or two, a pong every heartbeat, a close), so a connection keeps no parser
object between them, only the bytes of a frame not yet whole (ticker.live.connection): an idle reader holds
nothing here. What RFC 6455 asks of a server reading a client is checked: every frame masked, no reserved bits
(no extension is negotiated), known opcodes, control frames whole and at most 125 bytes, and no frame longer than
the connection's largest message (checked from its header, before its payload is waited for). The order of
fragments, a message's size and its UTF-8 are the connection's to check, as it assembles messages.
"""

from __future__ import annotations

from typing import NamedTuple

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover (websockets built without its C extension)
    from websockets.utils import apply_mask

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODES = frozenset((CONT, TEXT, BINARY, CLOSE, PING, PONG))
PROTOCOL_ERROR, MESSAGE_TOO_BIG = 1002, 1009

Frame = tuple[int, bool, bytes]  # opcode, fin, payload (unmasked)


class Failure(NamedTuple):
    """The stream breaks the protocol: the connection is failed with this close code and reason."""

    code: int
    reason: str


def parse(data: bytes | bytearray, max_size: int) -> tuple[list[Frame], bytes | bytearray, Failure | None]:
    """The whole frames at the start of ``data``, the bytes after them (the start of a frame still arriving), and
    the failure that stopped the parse, if one did (the frames before it are good and returned)."""
    frames: list[Frame] = []
    pos, end = 0, len(data)
    while end - pos >= 2:
        head, size = data[pos], data[pos + 1]
        opcode, fin = head & 0x0F, bool(head & 0x80)
        if head & 0x70:
            return frames, b"", Failure(PROTOCOL_ERROR, "reserved bits must be 0")
        if opcode not in OPCODES:
            return frames, b"", Failure(PROTOCOL_ERROR, "invalid opcode")
        if not size & 0x80:
            return frames, b"", Failure(PROTOCOL_ERROR, "incorrect masking")
        length, start = size & 0x7F, pos + 2
        if length == 126:
            if end - start < 2:
                break
            length, start = int.from_bytes(data[start : start + 2], "big"), start + 2
        elif length == 127:
            if end - start < 8:
                break
            length, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        if opcode >= CLOSE:
            if length > 125:
                return frames, b"", Failure(PROTOCOL_ERROR, "control frame too long")
            if not fin:
                return frames, b"", Failure(PROTOCOL_ERROR, "fragmented control frame")
        elif length > max_size:
            return frames, b"", Failure(MESSAGE_TOO_BIG, f"frame of {length} bytes, at most {max_size}")
        stop = start + 4 + length
        if stop > end:
            break
        frames.append((opcode, fin, apply_mask(data[start + 4 : stop], data[start : start + 4])))
        pos = stop
    return frames, data[pos:] if pos else data, None
