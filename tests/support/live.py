"""A reader over the real websocket protocol: subscribe, resume, and fold events into state."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin


@dataclass
class Folded:
    """An incident's state as a client builds it from events; refuses a gap or a twin."""

    seq: int = 0
    incident: dict[str, Any] | None = None
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, message: dict[str, Any]) -> None:
        if message["type"] == "snapshot":
            self.seq = message["seq"]
            self.incident = message["data"]["incident"]
            self.entries = {e["id"]: e for e in message["data"]["entries"]}
            return
        assert message["type"] == "event", message
        assert message["seq"] == self.seq + 1, f"expected seq {self.seq + 1}, got {message['seq']}"
        self.seq = message["seq"]
        self.events.append(message)
        data = message["data"]
        if "incident" in data:
            self.incident = data["incident"]
        if "entry" in data:
            self.entries[data["entry"]["id"]] = data["entry"]
        if self.incident is not None:  # a resumed reader may hold only what came after its seq
            self.incident = {**self.incident, "updated_at": message["at"]}

    def state(self) -> dict[str, Any]:
        return {"incident": self.incident, "seq": self.seq, "entries": self.entries}


class LiveReader:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.folded: dict[str, Folded] = {}

    @classmethod
    async def open(cls, url: str) -> LiveReader:
        return cls(await connect(url, open_timeout=10))

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def subscribe(self, slug: str, since: int | None = None, **extra: Any) -> dict[str, Any]:
        self.folded.setdefault(slug, Folded(seq=since or 0))
        await self.send({"type": "subscribe", "incident": slug, "since": since, **extra})
        reply = await self.receive()
        assert reply["type"] == "subscribed", reply
        return reply

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return message

    async def follow(self, slug: str, upto: int, timeout: float = 20.0) -> Folded:
        """Receive and fold until the incident reaches seq ``upto``."""
        folded = self.folded[slug]
        async with asyncio.timeout(timeout):
            while folded.seq < upto:
                message = await self.receive(timeout)
                if message.get("incident") == slug and message["type"] in ("event", "snapshot"):
                    folded.apply(message)
        return folded

    async def silent(self, wait: float = 0.3) -> bool:
        """True when nothing more arrives within ``wait`` seconds (to check that no extra event is sent)."""
        try:
            await asyncio.wait_for(self.ws.recv(), wait)
        except TimeoutError:
            return True
        return False


async def subscribed(ws: ClientConnection, slug: str) -> dict[str, object]:
    """Subscribe an open websocket to ``slug``; the server's reply (``subscribed`` or an ``error``)."""
    await ws.send(json.dumps({"type": "subscribe", "incident": slug}))
    reply: dict[str, object] = json.loads(await ws.recv())
    return reply


async def followers(ws_urls: list[str], slug: str, origin: str | None = None) -> list[ClientConnection]:
    """One websocket per URL (from ``origin``, as a page there would open it), each subscribed to ``slug``."""
    sockets = []
    for url in ws_urls:
        ws = await connect(url, origin=Origin(origin) if origin else None)
        assert (await subscribed(ws, slug))["type"] == "subscribed"
        sockets.append(ws)
    return sockets
