"""Lean websocket load generator for Ticker and its peers.

Holds thousands of reader connections per process: each reader is a bare ``asyncio.Protocol`` with a
minimal client handshake and frame parser (no task, queue or await per connection once it is open), spread
over ``--procs`` processes. A poster in the coordinating process posts entries over HTTP; every body carries
the time the post was sent (``bench t=<monotonic> n=<k>``), so every receipt measures post→receipt latency.
Readers keep the last ``seq`` they applied and resubscribe with ``since`` after a drop, like the real
client, and count missing, duplicate and out-of-order deliveries.

    python bench/loadgen.py --target ticker --url http://127.0.0.1:8000 --token T --scenario burst \
        --readers 1000 --procs 2

Prints one JSON object (see ``Result``). ``run.py`` drives the same code for every system.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import errno
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, Literal, Protocol, cast
from urllib.parse import urlsplit

monotonic = time.monotonic

TargetKind = Literal["ticker", "peer", "socketio"]
Probe = Callable[[str], None]  # called with a phase name: "idle", "connected", "start", "end"

# ---------------------------------------------------------------------------------------------------------
# Reading frames: what a server sends, reduced to (kind, seq, post time).

KIND_OTHER, KIND_EVENT, KIND_SUBSCRIBED, KIND_SNAPSHOT, KIND_ERROR = range(5)
_KINDS = {
    b"event": KIND_EVENT,
    b"subscribed": KIND_SUBSCRIBED,
    b"snapshot": KIND_SNAPSHOT,
    b"error": KIND_ERROR,
}
STAMP = b"bench t="
_parsed: dict[bytes, tuple[int, int, float]] = {}
_single_events: dict[bytes, tuple[int, float]] = {}  # a whole chunk that is one event frame -> (seq, sent)


def _value_at(payload: bytes, key: bytes) -> int:
    """Index of the first character of the JSON value after ``key`` (which includes its quotes), or -1."""
    i = payload.find(key)
    if i < 0:
        return -1
    i += len(key)
    while payload[i] in b" :":
        i += 1
    return i


def _number_at(payload: bytes, i: int) -> bytes:
    j = i
    while j < len(payload) and payload[j] in b"0123456789.":
        j += 1
    return payload[i:j]


def classify(payload: bytes) -> tuple[int, int, float]:
    """(kind, seq, post time) of a JSON message; every reader gets the same frames, so results are cached."""
    hit = _parsed.get(payload)
    if hit is not None:
        return hit
    kind, seq, sent = KIND_OTHER, 0, 0.0
    i = _value_at(payload, b'"type"')
    if i >= 0 and payload[i] == 0x22:  # '"'
        kind = _KINDS.get(payload[i + 1 : payload.find(b'"', i + 1)], KIND_OTHER)
    i = _value_at(payload, b'"seq"')
    if i >= 0:
        seq = int(_number_at(payload, i) or 0)
    i = payload.find(STAMP)
    if i >= 0:
        sent = float(_number_at(payload, i + len(STAMP)))
    if len(_parsed) > 4096:
        _parsed.clear()
    _parsed[payload] = result = (kind, seq, sent)
    return result


def mask_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A client frame (clients must mask)."""
    n = len(payload)
    head = bytes((0x80 | opcode, 0x80 | n)) if n < 126 else bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    key = os.urandom(4)
    stream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return head + key + masked


def subscribe_message(slug: str, since: int) -> bytes:
    return json.dumps({"type": "subscribe", "incident": slug, "since": since}).encode()


# ---------------------------------------------------------------------------------------------------------
# Dialects: what a reader says after the upgrade and how it reads text frames.


class Dialect(Protocol):
    path: str

    def opened(self, reader: Reader) -> None: ...
    def text(self, reader: Reader, payload: bytes, now: float) -> None: ...


class PlainDialect:
    """Ticker's protocol (and the peers that mimic it): subscribe at once, every frame is a JSON message."""

    def __init__(self, path: str = "/live") -> None:
        self.path = path

    def opened(self, reader: Reader) -> None:
        reader.send(subscribe_message(reader.slug, reader.last))

    def text(self, reader: Reader, payload: bytes, now: float) -> None:
        reader.message(*classify(payload), now)


class SocketIODialect:
    """Engine.IO 4 / Socket.IO 5 on the websocket transport only: just enough to subscribe and read."""

    path = "/socket.io/?EIO=4&transport=websocket"

    def opened(self, reader: Reader) -> None:
        pass  # the server speaks first: "0{sid,...}"

    def text(self, reader: Reader, payload: bytes, now: float) -> None:
        head = payload[:2]
        if head == b"42":  # an event: 42["name",{...}]
            reader.message(*classify(payload), now)
        elif head == b"2":  # engine.io ping
            reader.send(b"3")
        elif head[:1] == b"0":  # engine.io open -> connect to the default namespace
            reader.send(b"40")
        elif head == b"40":  # namespace connected -> subscribe
            body = subscribe_message(reader.slug, reader.last).decode()
            reader.send(f'42["subscribe",{body}]'.encode())
        elif head in (b"41", b"44"):
            reader.message(KIND_ERROR, 0, 0.0, now)


# ---------------------------------------------------------------------------------------------------------
# Readers and the pool that connects them.

CLOSED, CONNECTING, HANDSHAKE, OPEN, SUBSCRIBED = range(5)
STORM = -1  # close_code of a reader the storm dropped: it resumes within the storm's window
COUNTED = -2  # close_code of an attempt whose failure is counted already (a refused upgrade, the connect timeout)


class Stats:
    """Counters of one process's readers."""

    def __init__(self) -> None:
        self.latencies = array("d")
        self.duplicates = 0
        self.out_of_order = 0
        self.snapshots = 0
        self.errors = 0
        self.connects = 0
        self.drops = 0
        self.failures = 0
        # Why attempts ended before the reader subscribed: "connect <errno>", "http <status>" (a refused upgrade),
        # "lost before the upgrade's answer: …", "close <code>" (after the upgrade; 1006: with no close frame),
        # "timeout" (the connect timeout).
        self.failed_by: Counter[str] = Counter()
        self.last_receipt = 0.0

    def failed(self, why: str) -> None:
        self.failures += 1
        self.failed_by[why] += 1


class Reader(asyncio.Protocol):
    __slots__ = (
        "attempts",
        "buf",
        "close_code",
        "frag",
        "gaps",
        "last",
        "pool",
        "slug",
        "state",
        "transport",
    )

    def __init__(self, pool: Pool, slug: str, since: int) -> None:
        self.pool = pool
        self.slug = slug
        self.last = since
        self.gaps: set[int] | None = None
        self.state = CLOSED
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.frag = b""
        self.attempts = 0
        self.close_code = 0

    # asyncio callbacks

    def __call__(self) -> Reader:
        """Its own protocol factory: the same reader (and its last seq) lives across reconnections."""
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.state = HANDSHAKE
        self.buf = self.frag = b""
        self.close_code = 0
        self.transport.write(self.pool.handshake)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == HANDSHAKE and self.close_code not in (STORM, COUNTED):
            # Reset (the server's kernel), or closed with no answer (the server); how long after the connect began.
            began = self.pool.connecting.get(self, monotonic())
            after = min(10, int(monotonic() - began))
            how = "reset" if isinstance(exc, ConnectionResetError) else "closed" if exc is None else type(exc).__name__
            self.pool.stats.failed(
                f"lost before the upgrade's answer: {how} after {after}{'+' if after == 10 else ''} s"
            )
            self.close_code = COUNTED
        self.pool.lost(self)

    def data_received(self, data: bytes) -> None:
        now = monotonic()
        if self.state == SUBSCRIBED and not self.buf:
            # Fast path: most reads are one whole event frame that every other reader also got.
            hit = _single_events.get(data)
            if hit is not None:
                self.event(hit[0], hit[1], now)
                return
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        if self.state == HANDSHAKE:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.pool.stats.failed("http " + data[9:12].decode("latin-1"))
                self.close_code = COUNTED
                self.abort()
                return
            self.state = OPEN
            pos = end + 4
            self.pool.dialect.opened(self)
        n = len(data)
        while n - pos >= 2:
            b0 = data[pos]
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            end = start + length
            if end > n:
                break
            payload = data[start:end]
            if pos == 0 and end == n and b0 == 0x81 and self.state == SUBSCRIBED:
                kind, seq, sent = classify(payload)
                if kind == KIND_EVENT:
                    if len(_single_events) > 1024:
                        _single_events.clear()
                    _single_events[data] = (seq, sent)
            self.frame(b0, payload, now)
            pos = end
            if self.transport is None:
                return
        if pos < n:
            self.buf = data[pos:]

    # frames and messages

    def frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode = b0 & 0x0F
        if opcode == 0:  # continuation
            payload = self.frag + payload
            if not b0 & 0x80:
                self.frag = payload
                return
            self.frag = b""
            opcode = 1
        elif opcode in (1, 2) and not b0 & 0x80:
            self.frag = payload
            return
        if opcode in (1, 2):
            self.pool.dialect.text(self, payload, now)
        elif opcode == 9:
            self.send(payload, opcode=10)
        elif opcode == 8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.send(payload[:2], opcode=8)
            self.abort(graceful=True)

    def message(self, kind: int, seq: int, sent: float, now: float) -> None:
        if kind == KIND_EVENT:
            self.event(seq, sent, now)
        elif kind == KIND_SUBSCRIBED:
            if self.state != SUBSCRIBED:
                self.state = SUBSCRIBED
                self.attempts = 0
                self.pool.subscribed(self)
        elif kind == KIND_SNAPSHOT:
            self.pool.stats.snapshots += 1
            self.last = max(self.last, seq)
            self.gaps = None
        elif kind == KIND_ERROR:
            self.pool.stats.errors += 1

    def event(self, seq: int, sent: float, now: float) -> None:
        stats = self.pool.stats
        last = self.last
        if seq == last + 1:
            self.last = seq
        elif seq > last:
            gaps = self.gaps
            if gaps is None:
                gaps = self.gaps = set()
            gaps.update(range(last + 1, seq))
            self.last = seq
        elif self.gaps and seq in self.gaps:
            self.gaps.discard(seq)
            stats.out_of_order += 1
        else:
            stats.duplicates += 1
            return
        stats.latencies.append(now - sent)
        stats.last_receipt = now

    def send(self, payload: bytes, opcode: int = 1) -> None:
        if self.transport is not None:
            self.transport.write(mask_frame(payload, opcode))

    def abort(self, graceful: bool = False) -> None:
        if self.transport is not None:
            if graceful:
                self.transport.close()
            else:
                self.transport.abort()
            self.transport = None

    def missing(self, final: int) -> int:
        return (len(self.gaps) if self.gaps else 0) + max(0, final - self.last)


class Pool:
    """Connects readers with bounded concurrency, reconnects dropped ones, counts those subscribed."""

    CONNECT_TIMEOUT = 30.0

    def __init__(self, url: str, dialect: Dialect, concurrency: int, sources: tuple[str, ...] = ()) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.dialect = dialect
        self.concurrency = concurrency
        self.sources = sources  # loopback addresses to connect from, in turn (bind before connect)
        self.connections = 0
        key = base64.b64encode(os.urandom(16)).decode()
        self.handshake = (
            f"GET {dialect.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{self.host}:{self.port}\r\n\r\n"
        ).encode()
        self.stats = Stats()
        self.pending: deque[Reader] = deque()
        self.connecting: dict[Reader, float] = {}
        self.live = 0
        self.stopping = False
        self.last_subscribed = 0.0
        self.storm_window = 0.0
        self.want = 0
        self._settled = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def start(self, reader: Reader) -> None:
        if not self.stopping:
            self.pending.append(reader)
            self._pump()

    def _pump(self) -> None:
        while self.pending and len(self.connecting) < self.concurrency:
            reader = self.pending.popleft()
            reader.state = CONNECTING
            self.connecting[reader] = monotonic()
            self.stats.connects += 1
            local = None
            if self.sources:
                local = (self.sources[self.connections % len(self.sources)], 0)
                self.connections += 1
            fut = asyncio.ensure_future(self.loop.create_connection(reader, self.host, self.port, local_addr=local))
            fut.add_done_callback(partial(self._connected, reader))

    def _connected(self, reader: Reader, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            self.stats.failed("connect cancelled")
            self.lost(reader)
        elif (exc := fut.exception()) is not None:
            number = getattr(exc, "errno", None)
            self.stats.failed(
                f"connect {errno.errorcode.get(number, type(exc).__name__) if number else type(exc).__name__}"
            )
            self.lost(reader)

    def _sweep(self) -> None:
        cutoff = monotonic() - self.CONNECT_TIMEOUT
        for reader, began in list(self.connecting.items()):
            if began < cutoff and reader.transport is not None:
                self.stats.failed("timeout")
                reader.close_code = COUNTED
                reader.abort()
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def subscribed(self, reader: Reader) -> None:
        self.connecting.pop(reader, None)
        self.live += 1
        self.last_subscribed = monotonic()
        if self.live >= self.want:
            self._settled.set()
        self._pump()

    def lost(self, reader: Reader) -> None:
        """A connection ended (or never began): resume it after a jittered backoff unless told not to."""
        was = reader.state
        reader.state = CLOSED
        reader.transport = None
        if was == CLOSED:  # already handled (an aborted connect reports twice)
            return
        if was == SUBSCRIBED:
            self.live -= 1
            self.stats.drops += 1
        elif reader.close_code in (STORM, COUNTED):
            pass
        elif was == OPEN:  # upgraded, not subscribed yet
            self.stats.failed(f"close {reader.close_code or 1006}")
        self.connecting.pop(reader, None)
        self._pump()
        code = reader.close_code
        if self.stopping or code in (1000, 1009) or 4100 <= code < 4200:
            return
        if code == STORM:
            delay = random.uniform(0.0, self.storm_window)
        else:
            delay = random.uniform(0.0, min(10.0, 0.25 * 2**reader.attempts))
            reader.attempts += 1
        self.loop.call_later(delay, self.start, reader)

    def storm(self, readers: list[Reader], window: float) -> None:
        """Drop every reader now; each resumes at a random moment within ``window`` seconds."""
        self.storm_window = window
        for reader in readers:
            reader.close_code = STORM
            reader.abort()

    async def settled(self, total: int, limit: float) -> bool:
        """Wait until ``total`` readers are subscribed (at most ``limit`` seconds)."""
        self.want = total
        self._settled.clear()
        if self.live < total:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    await self._settled.wait()
        return self.live >= total

    def close(self, readers: list[Reader]) -> None:
        self.stopping = True
        self._sweeper.cancel()
        for reader in readers:
            reader.abort()


def make_dialect(kind: TargetKind) -> Dialect:
    return SocketIODialect() if kind == "socketio" else PlainDialect()


# ---------------------------------------------------------------------------------------------------------
# Reader processes: one pool each, driven by the coordinator over a pipe.


@dataclass(frozen=True)
class ChildSpec:
    url: str  # the server's HTTP base; readers upgrade on the dialect's path
    kind: TargetKind
    assignments: list[tuple[str, int]]  # (slug, since) per reader
    concurrency: int
    connect_timeout: float
    sources: tuple[str, ...] = ()


SOURCE_READERS = 10_000  # readers per loopback source address: a source has ~28,000 ephemeral ports


def loopback_sources(host: str, readers: int) -> tuple[str, ...]:
    """Where readers connect from when the server is 127.0.0.1: 127.0.0.2, 127.0.0.3 …, one per
    ``SOURCE_READERS`` readers, so ephemeral ports (one range per source address) are never the limit."""
    if host != "127.0.0.1":
        return ()
    return tuple(f"127.0.0.{2 + i}" for i in range(-(-readers // SOURCE_READERS)))


def cpu_seconds() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_loop(main: Coroutine[Any, Any, Any]) -> Any:
    """Run with uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _recv(conn: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


def _child_main(conn: Connection, spec: ChildSpec) -> None:
    raise_nofile()
    run_loop(_child(conn, spec))


async def _child(conn: Connection, spec: ChildSpec) -> None:
    pool = Pool(spec.url, make_dialect(spec.kind), spec.concurrency, spec.sources)
    readers = [Reader(pool, slug, since) for slug, since in spec.assignments]
    began, cpu0 = monotonic(), cpu_seconds()
    for reader in readers:
        pool.start(reader)
    await pool.settled(len(readers), spec.connect_timeout)
    cpu1 = cpu_seconds()
    conn.send(
        {
            "subscribed": pool.live,
            "connect_s": (pool.last_subscribed or monotonic()) - began,
            "connect_cpu": [cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]],
            "failures": pool.stats.failures,
            "failed_by": dict(pool.stats.failed_by),
        }
    )
    mark, cpu_mark = monotonic(), cpu_seconds()
    while True:
        cmd, arg = await _recv(conn)
        if cmd == "mark":  # the measured phase begins
            mark, cpu_mark = monotonic(), cpu_seconds()
            pool.stats = Stats()
            conn.send("marked")
        elif cmd == "storm":
            t0 = monotonic()
            pool.storm(readers, arg)
            await asyncio.sleep(0.05)  # the aborted connections report their loss on the next loop turns
            ok = await pool.settled(len(readers), arg + spec.connect_timeout)
            conn.send({"resumed_s": monotonic() - t0, "all_resumed": ok})
        elif cmd == "settle":  # until every reader is subscribed again (at most ``arg`` seconds)
            await pool.settled(len(readers), arg)
            conn.send({"live": pool.live, "readers": len(readers)})
        elif cmd == "finish":
            finals, quiet = arg
            await _caught_up(pool, readers, finals, quiet)
            conn.send(_report(pool, readers, finals, mark, cpu_mark))
        elif cmd == "close":
            pool.close(readers)
            await asyncio.sleep(0.2)
            return


async def _caught_up(pool: Pool, readers: list[Reader], finals: dict[str, int], quiet: float) -> None:
    """Wait until every reader has every event, or nothing arrived for ``quiet`` seconds."""
    last_count, last_change = -1, monotonic()
    while True:
        if all(r.last >= finals[r.slug] and not r.gaps for r in readers):
            return
        count = len(pool.stats.latencies) + pool.stats.duplicates
        if count != last_count:
            last_count, last_change = count, monotonic()
        elif monotonic() - last_change > quiet:
            return
        await asyncio.sleep(0.1)


def _report(pool: Pool, readers: list[Reader], finals: dict[str, int], mark: float, cpu_mark: Any) -> Any:
    stats = pool.stats
    cpu = cpu_seconds()
    busy_until = stats.last_receipt or monotonic()
    return {
        "latencies": stats.latencies.tobytes(),
        "missing": sum(r.missing(finals[r.slug]) for r in readers),
        "duplicates": stats.duplicates,
        "out_of_order": stats.out_of_order,
        "snapshots": stats.snapshots,
        "errors": stats.errors,
        "drops": stats.drops,
        "live": pool.live,
        "reconnects": stats.connects,
        "failures": stats.failures,
        "failed_by": dict(stats.failed_by),
        "cpu": [cpu[0] - cpu_mark[0], cpu[1] - cpu_mark[1]],
        "active_s": busy_until - mark,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "last_receipt": stats.last_receipt,
    }


# ---------------------------------------------------------------------------------------------------------
# Posting: a minimal HTTP/1.1 keep-alive client and the systems' publish APIs.


class HttpClient:
    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                return await self._request(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._conn
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in fields:
            data = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            data = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                data += await reader.readexactly(size)
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
        else:
            data = await reader.read()
            await self.close()
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


def entry_body(n: int, size: int) -> str:
    """A body of about ``size`` bytes that carries its own send time."""
    text = f"bench t={monotonic():.6f} n={n} "
    return f"<p>{text}{'x' * max(0, size - len(text) - 7)}</p>"


class Target(Protocol):
    kind: TargetKind

    async def create_incident(self, title: str) -> tuple[str, int]: ...
    async def post(self, slug: str, n: int, body_size: int) -> int: ...
    def fork(self) -> Target: ...
    async def close(self) -> None: ...


class TickerTarget:
    """Ticker's reporter API."""

    kind: TargetKind = "ticker"

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.http = HttpClient(base, {"Authorization": f"Bearer {token}"})

    async def _json(self, path: str, payload: dict[str, Any]) -> Any:
        status, data = await self.http.request("POST", path, json.dumps(payload).encode())
        if status != 201:
            raise RuntimeError(f"POST {path} answered {status}: {data[:300]!r}")
        return json.loads(data)

    async def create_incident(self, title: str) -> tuple[str, int]:
        doc = await self._json("/api/incidents", {"title": title})
        return doc["incident"]["slug"], int(doc["seq"])

    async def post(self, slug: str, n: int, body_size: int) -> int:
        doc = await self._json(f"/api/incidents/{slug}/entries", {"body": entry_body(n, body_size), "label": "23:00"})
        return int(doc["seq"])

    def fork(self) -> TickerTarget:
        """Another poster, on a connection of its own."""
        return TickerTarget(self.base, self.token)

    async def close(self) -> None:
        await self.http.close()


class PeerTarget:
    """A peer's ``POST /publish/{slug}``: the body is the event frame, relayed through Redis to the readers.

    The frame has the shape and size of Ticker's ``entry.posted`` event; the poster numbers it (before it sends,
    so concurrent posters sharing ``seqs`` never reuse a number; the peer may relay them in another order).
    """

    def __init__(self, base: str, kind: TargetKind, seqs: dict[str, int] | None = None) -> None:
        self.base, self.kind = base, kind
        self.http = HttpClient(base)
        self.seqs: dict[str, int] = {} if seqs is None else seqs
        self.count = 0

    async def create_incident(self, title: str) -> tuple[str, int]:
        self.count += 1
        slug = f"incident-{self.count}"
        self.seqs[slug] = 0
        return slug, 0

    async def post(self, slug: str, n: int, body_size: int) -> int:
        seq = self.seqs[slug] = self.seqs[slug] + 1
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        entry = {
            "id": n,
            "incident": slug,
            "author": "Bench Reporter",
            "body": entry_body(n, body_size),
            "label": "23:00",
            "created_at": at,
            "edited_at": None,
            "key_event": False,
            "pinned": False,
            "retracted": False,
            "correction": None,
        }
        frame = {
            "type": "event",
            "incident": slug,
            "seq": seq,
            "event": "entry.posted",
            "at": at,
            "data": {"entry": entry},
        }
        status, data = await self.http.request("POST", f"/publish/{slug}", json.dumps(frame).encode())
        if status not in (200, 201):
            raise RuntimeError(f"publish answered {status}: {data[:300]!r}")
        return seq

    def fork(self) -> PeerTarget:
        """Another poster, on a connection of its own, numbering from the same seqs."""
        return PeerTarget(self.base, self.kind, self.seqs)

    async def close(self) -> None:
        await self.http.close()


def make_target(kind: TargetKind, base: str, token: str | None = None) -> Target:
    if kind == "ticker":
        if not token:
            raise ValueError("the ticker target needs a token")
        return TickerTarget(base, token)
    return PeerTarget(base, kind)


# ---------------------------------------------------------------------------------------------------------
# Scenarios and the coordinator.


@dataclass(frozen=True)
class Scenario:
    name: str
    readers: int
    incidents: int = 1
    posts: int = 50
    rate: float = 0.0  # posts per second; 0: as fast as the API takes them
    storm_at: float = 0.0  # > 0: at this many seconds into posting, every reader drops ...
    storm_window: float = 0.0  # ... and resumes within this many seconds
    body_size: int = 200
    quiet: float = 5.0  # give up waiting when nothing arrived for this long
    posters: int = 1  # concurrent posters, each on its own connection


def scenario(name: str, readers: int, quick: bool = False) -> Scenario:
    """The standard scenarios; ``quick`` shrinks them to a few seconds each."""
    if name == "steady":
        return Scenario(name, readers, posts=5, rate=5.0) if quick else Scenario(name, readers, posts=60, rate=1.0)
    if name == "burst":
        return Scenario(name, readers, posts=50)
    if name == "burst8":  # events queue: several arrive while one is fanned out
        return Scenario(name, readers, posts=80 if quick else 400, posters=8)
    if name == "storm":
        if quick:
            return Scenario(name, readers, posts=4, rate=2.0, storm_at=0.5, storm_window=1.0)
        return Scenario(name, readers, posts=14, rate=1.0, storm_at=1.0, storm_window=10.0)
    if name == "day":
        incidents = min(readers, 10 if quick else 100)
        return Scenario(
            name,
            readers,
            incidents=incidents,
            posts=incidents * (2 if quick else 3),
            rate=20.0 if quick else 5.0,
        )
    raise ValueError(f"unknown scenario {name!r}")


SCENARIOS = ("steady", "burst", "burst8", "storm", "day")


def spread(readers: int, incidents: int) -> list[int]:
    """Readers per incident: Zipf-like (a few big stories, a long tail), at least one reader each."""
    if readers < incidents:
        raise ValueError(f"{readers} readers cannot spread over {incidents} incidents")
    weights = [1.0 / (i + 1) for i in range(incidents)]
    total = sum(weights)
    counts = [1 + int((readers - incidents) * w / total) for w in weights]
    counts[0] += readers - sum(counts)
    return counts


@dataclass
class Result:
    system: str
    scenario: str
    readers: int
    subscribed: int
    incidents: int
    posts: int
    expected: int
    received: int
    missing: int
    duplicates: int
    out_of_order: int
    snapshots: int
    errors: int
    latency_ms: dict[str, float]
    connect_s: float
    connects_per_s: float
    post_s: float
    deliveries_per_s: float
    loadgen_cpu_s: dict[str, float]
    loadgen_busiest: float  # highest share of one core used by one load generator process while delivering
    loadgen_rss_kib: int  # peak resident memory of the reader processes, summed
    storm: dict[str, Any] = field(default_factory=dict)


def percentiles(values: list[float], points: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)
    out = {f"p{p:g}": values[min(len(values) - 1, int(len(values) * p / 100))] for p in points}
    out["max"] = values[-1]
    return out


class Crowd:
    """The readers of a run in ``procs`` processes: connected once, then driven phase by phase (a "mark" starts
    a measured phase, a "finish" ends it with each process's report) until closed."""

    def __init__(
        self,
        url: str,
        kind: TargetKind,
        assignments: list[tuple[str, int]],
        procs: int,
        concurrency: int,
        connect_timeout: float,
    ) -> None:
        ctx = mp.get_context("spawn")
        sources = loopback_sources(urlsplit(url).hostname or "", len(assignments))
        self.links: list[Connection] = []
        self.children: list[Any] = []
        for i in range(procs):
            parent, child = ctx.Pipe()
            per_proc = max(1, concurrency // procs)
            spec = ChildSpec(url, kind, assignments[i::procs], per_proc, connect_timeout, sources)
            proc = ctx.Process(target=_child_main, args=(child, spec), daemon=True)
            proc.start()
            self.links.append(parent)
            self.children.append(proc)

    async def connected(self) -> list[dict[str, Any]]:
        """Each process's connect figures, once its readers are subscribed (or its connect timeout passed)."""
        return list(await asyncio.gather(*(_recv(link) for link in self.links)))

    async def ask(self, cmd: str, arg: Any = None) -> list[Any]:
        for link in self.links:
            link.send((cmd, arg))
        return list(await asyncio.gather(*(_recv(link) for link in self.links)))

    def close(self) -> None:
        for link in self.links:
            with contextlib.suppress(OSError):
                link.send(("close", None))
        for proc in self.children:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


async def run_scenario(
    sc: Scenario,
    target: Target,
    url: str,
    *,
    system: str = "",
    procs: int = 1,
    concurrency: int = 200,
    connect_timeout: float = 120.0,
    probe: Probe | None = None,
) -> Result:
    """Connect ``sc.readers`` readers over ``procs`` processes, post, wait for every delivery, report."""
    probe = probe or (lambda phase: None)
    incidents = [await target.create_incident(f"Bench {sc.name} {i}") for i in range(sc.incidents)]
    per_incident = spread(sc.readers, sc.incidents)
    assignments = [(slug, since) for (slug, since), k in zip(incidents, per_incident, strict=True) for _ in range(k)]
    probe("idle")
    crowd = Crowd(url, target.kind, assignments, procs, concurrency, connect_timeout)
    try:
        ready = await crowd.connected()
        probe("connected")
        subscribed = sum(r["subscribed"] for r in ready)
        connect_s = max(r["connect_s"] for r in ready)
        await crowd.ask("mark")
        cpu0, began = cpu_seconds(), monotonic()
        probe("start")
        finals = {slug: since for slug, since in incidents}
        slugs = [s for s, _ in incidents]
        _, storm = await asyncio.gather(post_entries(sc, target, slugs, finals), _storm(sc, crowd))
        post_s = monotonic() - began
        reports = await crowd.ask("finish", (finals, sc.quiet))
        cpu1 = cpu_seconds()
        probe("end")
    finally:
        crowd.close()
    latencies = array("d")
    for report in reports:
        latencies.frombytes(report["latencies"])
    bases = dict(incidents)
    expected = sum(k * (finals[slug] - bases[slug]) for (slug, _), k in zip(incidents, per_incident, strict=True))
    received = len(latencies)
    deliver_s = max(r["last_receipt"] for r in reports) - began  # CLOCK_MONOTONIC is system-wide
    poster_cpu = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])
    return Result(
        system=system or target.kind,
        scenario=sc.name,
        readers=sc.readers,
        subscribed=subscribed,
        incidents=sc.incidents,
        posts=sum(finals[s] - bases[s] for s in finals),
        expected=expected,
        received=received,
        missing=sum(r["missing"] for r in reports),
        duplicates=sum(r["duplicates"] for r in reports),
        out_of_order=sum(r["out_of_order"] for r in reports),
        snapshots=sum(r["snapshots"] for r in reports),
        errors=sum(r["errors"] for r in reports),
        latency_ms={k: round(v * 1000, 2) for k, v in percentiles(latencies.tolist()).items()},
        connect_s=round(connect_s, 3),
        connects_per_s=round(subscribed / connect_s, 1) if connect_s > 0 else 0.0,
        post_s=round(post_s, 3),
        deliveries_per_s=round(received / deliver_s, 1) if deliver_s > 0 else 0.0,
        loadgen_cpu_s={
            "user": round(sum(r["cpu"][0] for r in reports) + poster_cpu[0], 3),
            "sys": round(sum(r["cpu"][1] for r in reports) + poster_cpu[1], 3),
        },
        loadgen_busiest=round(max(sum(r["cpu"]) / r["active_s"] for r in reports), 3),
        loadgen_rss_kib=sum(r["max_rss_kib"] for r in reports),
        storm=storm,
    )


async def _storm(sc: Scenario, crowd: Crowd) -> dict[str, Any]:
    if sc.storm_window <= 0:
        return {}
    await asyncio.sleep(sc.storm_at)
    resumed = await crowd.ask("storm", sc.storm_window)
    return {
        "resumed_s": round(max(r["resumed_s"] for r in resumed), 3),
        "all_resumed": all(r["all_resumed"] for r in resumed),
    }


async def post_entries(sc: Scenario, target: Target, slugs: list[str], finals: dict[str, int]) -> None:
    """``sc.posts`` posts round the incidents at ``sc.rate`` from ``sc.posters`` concurrent posters (post n by
    poster n mod posters, each on its own connection); ``finals`` gets each incident's last seq."""
    began = monotonic()

    async def poster(one: Target, first: int) -> None:
        for n in range(first, sc.posts, sc.posters):
            if sc.rate > 0:
                delay = began + n / sc.rate - monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            slug = slugs[n % len(slugs)]
            finals[slug] = max(finals[slug], await one.post(slug, n, sc.body_size))

    forks = [target.fork() for _ in range(sc.posters - 1)]
    try:
        await asyncio.gather(*(poster(one, i) for i, one in enumerate([target, *forks])))
    finally:
        for one in forks:
            await one.close()


# ---------------------------------------------------------------------------------------------------------


async def _cli(args: argparse.Namespace) -> dict[str, Any]:
    target = make_target(args.target, args.url, args.token)
    sc = scenario(args.scenario, args.readers, quick=args.quick)
    probe: Probe | None = None
    samples: dict[str, Any] = {}
    if args.server_pid:
        from measure import sample  # only needed for this option

        def probe(phase: str) -> None:
            samples[phase] = sample(args.server_pid)

    try:
        result = await run_scenario(sc, target, args.url, procs=args.procs, probe=probe)
    finally:
        await target.close()
    out = asdict(result)
    if samples:
        from measure import server_figures

        out["server"] = server_figures(samples, result.received, result.subscribed)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["ticker", "peer", "socketio"], default="ticker")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's HTTP base URL")
    parser.add_argument("--token", help="reporter token (ticker target)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="burst")
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=1, help="reader processes")
    parser.add_argument("--quick", action="store_true", help="shrink the scenario to a few seconds")
    parser.add_argument("--server-pid", type=int, help="also measure this server process (and its children)")
    args = parser.parse_args(argv)
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the load generator only talks to this machine (127.0.0.1)")
    raise_nofile()
    json.dump(run_loop(_cli(args)), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
