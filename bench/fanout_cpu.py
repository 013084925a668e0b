"""The fan-out's CPU per delivery on its own: the hub writing events to readers over real sockets.

One process runs the hub (no listener, no store read: events are handed to ``Hub.dispatch`` as the listener
would) with ``--readers`` LiveConnections on socketpairs under uvloop; a forked child drains the other ends. It
dispatches ``--events`` events of ~400 bytes, ``--per-turn`` of them in each turn of the event loop (1: the
steady case; 8: a burst from 8 posters), and prints this process's CPU time (user + system) per delivery.

    .venv/bin/python bench/fanout_cpu.py --per-turn 1
    .venv/bin/python bench/fanout_cpu.py --per-turn 8

To compare with an older tree: ``PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/fanout_cpu.py`` (a
tree from before coalesced writes has no ``hold`` on ``Hub.connect``; the script connects readers either way).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import selectors
import socket
import tempfile
import time
from collections import deque
from pathlib import Path

import uvloop

from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.events import dumps
from ticker.live.connection import LiveConnection
from ticker.live.frames import framed
from ticker.live.hub import Hub
from ticker.live.topic import Topic
from ticker.store.sql import Store


def drain(sockets: list[socket.socket]) -> None:
    """Read every socket until the other side closes them all (the forked child)."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    left = len(sockets)
    while left:
        for key, _ in selector.select():
            source = key.fileobj
            if not isinstance(source, socket.socket):
                continue
            try:
                data = source.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(source)
                left -= 1


async def measure(args: argparse.Namespace) -> dict[str, object]:
    pairs = [socket.socketpair() for _ in range(args.readers)]
    child = os.fork()
    if child == 0:
        for ours, _ in pairs:
            ours.close()
        drain([theirs for _, theirs in pairs])
        os._exit(0)
    for _, theirs in pairs:
        theirs.close()
    loop = asyncio.get_running_loop()
    database = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'unused.db'}"  # never opened
    hub = Hub(Settings(database_url=database), MemoryBroker(history=10), Store(database))
    topic = Topic("brand", deque(maxlen=256))
    topic.ready.set_result(None)
    hub.topics["brand"] = topic
    holds = "hold" in inspect.signature(hub.connect).parameters
    connections: set[LiveConnection] = set()
    for ours, _ in pairs:
        transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        connection = LiveConnection(transport, connections, lambda _text: None, lambda: None, 4096, 1 << 20)
        transport.set_protocol(connection)
        reader = hub.connect(connection, hold=connection.hold) if holds else hub.connect(connection)
        reader.topics["brand"] = topic
        topic.go_live(reader)
    body = "Räddningstjänsten är på plats. " * 10
    frames = [
        framed(dumps({"type": "event", "incident": "brand", "seq": seq, "data": {"body": body}}), seq)
        for seq in range(1, args.events + 1)
    ]
    await asyncio.sleep(0.2)
    started = time.process_time()
    seq = 0
    while seq < args.events:
        for _ in range(args.per_turn):
            seq += 1
            hub.dispatch(topic, seq, frames[seq - 1])
        await asyncio.sleep(0)  # the turn ends: what it dispatched is written
    cpu = time.process_time() - started
    for connection in list(connections):
        connection.transport.close()
    await asyncio.to_thread(os.waitpid, child, 0)  # the child ends once every socket is closed
    return {
        "readers": args.readers,
        "events": args.events,
        "per_turn": args.per_turn,
        "frame_bytes": len(frames[0].frame),
        "cpu_us_per_delivery": round(cpu * 1e6 / (args.readers * args.events), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--per-turn", type=int, default=1, help="events dispatched in one turn of the loop")
    print(json.dumps(uvloop.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
