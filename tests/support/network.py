"""Network doubles for the guarded fetcher (ticker.net.fetch): a backend that connects nowhere, and a resolver
that answers from a table."""

from __future__ import annotations

from typing import Any

import httpcore


class Recording(httpcore.AsyncNetworkBackend):
    """A network backend that connects nowhere: it records where it was asked to connect."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("the test connects nowhere")

    async def sleep(self, seconds: float) -> None:
        pass


def resolving(answers: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve
