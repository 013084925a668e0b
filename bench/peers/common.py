"""What the Python peers share: the command line and how uvicorn runs them (uvloop, httptools, the default
websocket implementation, one process)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import uvicorn

SUBSCRIBED = '{{"type":"subscribed","incident":"{slug}","seq":0}}'  # the ack the load generator waits for


def serve(create_app: Callable[[str], Any], description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--ws", default="auto", help="uvicorn's websocket implementation")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.redis),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws=args.ws,
        log_level="warning",
        backlog=4096,
    )
