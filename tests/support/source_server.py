"""A local stand-in for the public sources: recorded answers on loopback, with ETag and Last-Modified.

Each path answers what the test set (``answer``): a body, an error status, a delay, or an endless stream. It keeps
every request's headers, so a test sees the conditional requests the poller sends; a request whose
If-None-Match (or, without one, If-Modified-Since) matches the current answer gets 304 and no body.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.services import free_port

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def recorded(name: str) -> bytes:
    """A recorded answer from tests/fixtures/sources."""
    return (FIXTURES / name).read_bytes()


@dataclass
class Answer:
    body: bytes = b"[]"
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0  # seconds before answering (a slow source)
    endless: bool = False  # stream bytes until the client goes away (a huge answer)
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class SourceServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, body: bytes | None = None, **fields: Any) -> Answer:
        self.answers[path] = Answer(**({"body": body} if body is not None else {}), **fields)
        return self.answers[path]

    def seen(self, path: str) -> list[dict[str, str]]:
        """The headers of each request for ``path``, in order."""
        return [headers for at, headers in self.requests if at == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((path, headers))
        answer = self.answers.get(path, Answer(status=404, body=b"not here"))
        if answer.delay:
            await asyncio.sleep(answer.delay)
        common = [(b"content-type", answer.content_type.encode())]
        common += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        if answer.endless:
            await send({"type": "http.response.start", "status": 200, "headers": common})
            chunk = b"[" + b"0," * 32_768
            for _ in range(1000):  # up to 64 MB, unless the client hangs up first
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"0]"})
            return
        validators = [(b"etag", answer.etag.encode()), (b"last-modified", answer.last_modified.encode())]
        if answer.status == 200 and self._unchanged(headers, answer):
            await send({"type": "http.response.start", "status": 304, "headers": validators})
            await send({"type": "http.response.body", "body": b""})
            return
        start = common + (validators if answer.status == 200 else [])
        await send({"type": "http.response.start", "status": answer.status, "headers": start})
        await send({"type": "http.response.body", "body": answer.body})

    @staticmethod
    def _unchanged(headers: dict[str, str], answer: Answer) -> bool:
        if "if-none-match" in headers:
            return headers["if-none-match"] == answer.etag
        return headers.get("if-modified-since") == answer.last_modified


@asynccontextmanager
async def source_server() -> AsyncIterator[SourceServer]:
    """A SourceServer on a free loopback port, for the length of the block."""
    server = SourceServer()
    config = uvicorn.Config(
        server, host="127.0.0.1", port=server.port, lifespan="off", log_config=None, log_level="warning"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        running.should_exit = True
        await task
