"""The direct handshake: a plain reader's websocket upgrade to /live answered without the ASGI app.

A plain reader is an upgrade to /live without a session cookie, whose origin this node can admit from memory
(``Lane.open_now``). That is most readers, and answering them here, in one call (the 101, a ``LiveConnection``
and the hub), keeps a connect to the cost of reading a request and writing a response (docs/benchmarks.md).
Anything else gets None, with nothing written, and goes uvicorn's way (ticker.live.handover).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Any
from urllib.parse import parse_qsl

from websockets.utils import accept_key

from ticker.http.session_auth import SESSION_COOKIE
from ticker.live.connection import LiveConnection
from ticker.live.gate import LANE_STATE, Lane

LIVE_REQUEST = b"GET /live"  # what the first bytes of a reader's connection start with
MAX_HEAD = 8192  # a longer request goes uvicorn's way, with its limits
COOKIE_MARK = SESSION_COOKIE.encode() + b"="
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110, section 5.1)


def open_direct(
    app_state: dict[str, Any], transport: asyncio.Transport, server_state: Any, head: bytes
) -> LiveConnection | None:
    """Answer a plain reader's upgrade request (``head``, up to its blank line) and open its connection;
    None, having written nothing, for any other request."""
    lane: Lane | None = app_state.get(LANE_STATE)
    request = plain_reader(head)
    if lane is None or request is None:
        return None
    key, origin, partner = request
    session = lane.open_now(origin, partner)
    if session is None:
        return None
    transport.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n"
    )
    connection = LiveConnection(
        transport,
        server_state.connections,
        session.received,
        session.lost,
        max_size=lane.settings.ws_max_message_bytes,
        buffer_limit=lane.settings.send_buffer_bytes,
    )
    session.start(connection)
    return connection


def plain_reader(head: bytes) -> tuple[bytes, str | None, str | None] | None:
    """(Sec-WebSocket-Key, Origin, ?partner=) of a well-formed websocket upgrade to /live that carries no
    session cookie; None for anything else. ``head`` is the request line and the header lines, as a client
    sent them or as uvicorn passes them on."""
    lines = head.split(b"\r\n")
    method, target, version = [*lines[0].split(b" ", 2), b"", b""][:3]
    path, _, query = target.partition(b"?")
    if method != b"GET" or path != b"/live" or version != b"HTTP/1.1":
        return None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            return None
        name = name.lower()
        if name in headers:
            return None
        headers[name] = value.strip(b" \t")
    connection = headers.get(b"connection", b"").lower()
    if (
        headers.get(b"upgrade", b"").lower() != b"websocket"
        or (connection != b"upgrade" and b"upgrade" not in [token.strip() for token in connection.split(b",")])
        or headers.get(b"sec-websocket-version") != b"13"
        or COOKIE_MARK in headers.get(b"cookie", b"")
    ):
        return None
    key = headers.get(b"sec-websocket-key", b"")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    origin = headers.get(b"origin")
    partner = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("partner") if query else None
    return key, None if origin is None else origin.decode("latin-1"), partner
