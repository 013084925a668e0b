"""Which browser origins may use the live socket, SSE and CORS for an incident: the one place that decides.

Allowed: a request without an ``Origin`` header (tools, the load generator: browsers always send one on
cross-origin requests and websockets), our own origin (``Settings.public_url``, else ``http://host:port``), and
the origins of the partners that cover the incident. Each node caches the partner list for
``TICKER_PARTNER_CACHE_SECONDS``; changes made through this node's API take effect on it at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ticker.config import Settings
from ticker.errors import CloseCode, Refused
from ticker.logs import log_event
from ticker.store.partners import PartnerInfo, origin_entry, partners
from ticker.store.sql import Store


def origin_refused(message: str) -> Refused:
    return Refused("origin_not_allowed", message, "Origin")


def own_origin(settings: Settings) -> str:
    parts = urlsplit(settings.resolved_public_url())
    return origin_entry(f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Directory:
    """The partners by origin: exact origins, and subdomain patterns as (scheme, .suffix, port)."""

    exact: dict[str, PartnerInfo] = field(default_factory=dict)
    patterns: list[tuple[str, str, int | None, PartnerInfo]] = field(default_factory=list)
    by_name: dict[str, PartnerInfo] = field(default_factory=dict)

    @classmethod
    def of(cls, found: list[PartnerInfo]) -> Directory:
        directory = cls(by_name={p.name: p for p in found})
        for partner in found:
            for origin in partner.origins:
                parts = urlsplit(origin)
                host = parts.hostname or ""
                if host.startswith("*."):
                    directory.patterns.append((parts.scheme, host[1:], parts.port, partner))
                else:
                    directory.exact[origin] = partner
        return directory

    def partner_for(self, origin: str) -> PartnerInfo | None:
        found = self.exact.get(origin)
        if found is not None:
            return found
        parts = urlsplit(origin)
        host = parts.hostname or ""
        for scheme, suffix, port, partner in self.patterns:
            if parts.scheme == scheme and parts.port == port and host.endswith(suffix) and len(host) > len(suffix):
                return partner
        return None

    def covering(self, slug: str) -> list[PartnerInfo]:
        return [p for p in self.by_name.values() if p.covers(slug)]


@dataclass(frozen=True)
class Admission:
    """A connection whose origin passed."""

    origin: str | None
    embedder: PartnerInfo | None = None  # the partner whose page this Origin is: it bounds what may be followed
    tagged: PartnerInfo | None = None  # an iframe embed's ?partner= on our own origin: counted, grants nothing

    @property
    def partner(self) -> PartnerInfo | None:
        """The partner whose embed opened the connection, for its reader counts."""
        return self.embedder or self.tagged

    def allows(self, slug: str) -> bool:
        return self.embedder is None or self.embedder.covers(slug)

    def _refusal(self, slug: str) -> str:
        name = self.embedder.name if self.embedder else ""
        return (
            f"origin {self.origin} (partner {name!r}) may not embed incident {slug!r}; "
            "ask the newsroom to add the incident to the partner"
        )

    def check(self, slug: str) -> None:
        """For HTTP (SSE, the embed API): origin_refused unless this origin may follow the incident."""
        if not self.allows(slug):
            raise origin_refused(self._refusal(slug))

    def check_subscribe(self, slug: str) -> None:
        """For the websocket: an ``error`` reply (the connection stays) unless this origin may follow it."""
        if not self.allows(slug):
            raise Refused("origin_not_allowed", self._refusal(slug), "incident")

    def cors_headers(self) -> dict[str, str]:
        """Access-Control-Allow-Origin for an allowed partner origin only, never a reflected one."""
        headers = {"Vary": "Origin"}
        if self.embedder is not None and self.origin is not None:
            headers["Access-Control-Allow-Origin"] = self.origin
        return headers


class OriginPolicy:
    """One per node: our own origin and a cached partner directory."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.own = own_origin(settings)
        self._store = store
        self._ttl = settings.partner_cache_seconds
        self._directory: Directory | None = None
        self._loaded_at = 0.0
        self._generation = 0  # bumped by invalidate(): a load that raced a change is not kept
        self._lock = asyncio.Lock()

    async def directory(self) -> Directory:
        fresh = self.cached_directory()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self.cached_directory()
            if fresh is not None:
                return fresh
            loaded_at, generation = time.monotonic(), self._generation
            directory = Directory.of(await partners(self._store))
            if generation == self._generation:
                self._directory, self._loaded_at = directory, loaded_at
            return directory

    def cached_directory(self) -> Directory | None:
        """The partner directory if this node holds a fresh one, else None (``directory()`` loads it)."""
        if self._directory is not None and time.monotonic() - self._loaded_at < self._ttl:
            return self._directory
        return None

    def invalidate(self) -> None:
        self._directory = None
        self._generation += 1

    async def admit(self, origin: str | None, partner_name: str | None = None) -> Admission:
        """Admit a connection by its Origin header, or raise origin_refused saying why and what to do.

        ``partner_name`` (the ``?partner=`` of an iframe embed, served from our own origin) only tags the
        connection for the partner's counts; it grants nothing.
        """
        needs = self._needs_directory(origin, partner_name)
        return self._admit(origin, partner_name, await self.directory() if needs else None)

    def admit_now(self, origin: str | None, partner_name: str | None = None) -> Admission | None:
        """``admit`` without waiting: None when the answer needs a directory this node does not hold fresh,
        or is a refusal (the caller then takes the path that awaits ``admit`` and answers the refusal)."""
        directory = self.cached_directory()
        if directory is None and self._needs_directory(origin, partner_name):
            return None
        try:
            return self._admit(origin, partner_name, directory)
        except Refused:
            return None

    def _needs_directory(self, origin: str | None, partner_name: str | None) -> bool:
        return origin is not None and (bool(partner_name) or origin.strip().lower() != self.own)

    def _admit(self, origin: str | None, partner_name: str | None, directory: Directory | None) -> Admission:
        if origin is None:
            return Admission(None)
        normalized = origin.strip().lower()
        if normalized == self.own:
            tagged = directory.by_name.get(partner_name) if directory is not None and partner_name else None
            return Admission(normalized, tagged=tagged)
        partner = directory.partner_for(normalized) if directory is not None else None
        if partner is None:
            raise origin_refused(
                f"origin {origin[:200]} is not allowed to use this Ticker server; the newsroom registers the "
                "origins of partner sites (ticker partner add NAME --origin https://…)"
            )
        return Admission(normalized, embedder=partner)

    async def frame_ancestors(self, slug: str) -> str:
        """The CSP ``frame-ancestors`` value for an incident's iframe: us and its partners' origins."""
        sources = ["'self'"]
        for partner in (await self.directory()).covering(slug):
            sources.extend(partner.origins)
        return "frame-ancestors " + " ".join(sources)


async def admit(policy: OriginPolicy, connection: HTTPConnection) -> Admission:
    """The connection's Admission, or origin_refused (a 403 JSON answer through the app's error handler)."""
    return await policy.admit(connection.headers.get("origin"), connection.query_params.get("partner"))


async def admit_socket(policy: OriginPolicy, websocket: WebSocket) -> Admission | None:
    """Admit a websocket before accepting it; a refused origin gets None and HTTP 403 at the handshake.

    The 403 has no body (a close before accept): browsers show only the status, so the reason is logged here,
    and the embed API answers the same origin with a JSON 403 that says it.
    """
    try:
        return await admit(policy, websocket)
    except Refused as refused:
        if refused.code != "origin_not_allowed":
            raise
        log_event("ws_origin_refused", origin=websocket.headers.get("origin", "")[:200])
        await websocket.close(CloseCode.ORIGIN_NOT_ALLOWED)
        return None
