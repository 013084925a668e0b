"""The guarded fetcher: GET a URL an editor typed in, without letting it reach anything inside our network.

A URL from the desk is an SSRF risk: ``http://10.0.0.5/admin``, a name that resolves to 127.0.0.1, or a public
page that redirects to the cloud's metadata address. So every connection, the first and each redirect's, goes
through ``GuardedBackend``: it resolves the host itself, refuses the connection if *any* resolved address is
private, loopback, link-local, multicast, reserved or otherwise not global (before a byte is sent anywhere), and
then connects to an address it checked, never to the name again (a second lookup could answer differently:
DNS rebinding). TLS still verifies the certificate against the name. Redirects are followed here, one at a
time and at most ``max_redirects``, so each new host is checked the same way. Proxies from the environment are
ignored: a proxy would connect on our behalf, past the check.

Every answer is bounded: a total time (``timeout``, the slow-drip server too) and a size (``max_bytes``, counted
as the body is decoded, so a compressed bomb stops there too). Tests reach their loopback fixture servers only
with ``allow_loopback`` (TICKER_FETCH_ALLOW_LOOPBACK), which allows loopback and nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A fetch that gave no usable answer. ``code`` says which way (for a status line), ``message`` the detail."""

    def __init__(self, code: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.code = code  # refused, bad_url, dns, connect, timeout, status, too_large, redirects
        self.message = message
        self.status = status
        self.retry_after = retry_after


class AddressRefused(FetchError):
    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__("refused", f"{host} resolves to {address}, a {reason} address")
        self.address = address


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for ``host``, in its order, each once."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError("dns", f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why we may not connect to ``address`` (an IP literal), or None when we may."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address carried inside an IPv6 one reaches that IPv4 host: judge the host.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    for reason, hit in (
        ("multicast", ip.is_multicast),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or ip.is_unspecified),
    ):
        if hit:
            return reason
    return None if ip.is_global else "non-global"


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the check in front: resolve, refuse, connect to a checked address."""

    def __init__(
        self, resolver: Resolver, *, allow_loopback: bool = False, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.resolver = resolver
        self.allow_loopback = allow_loopback
        self.inner = inner or httpcore.AnyIOBackend()

    async def checked(self, host: str, port: int) -> list[str]:
        """The addresses we may connect to for ``host``; refuses all of them if any one is not allowed."""
        addresses = [host] if _ip_literal(host) else await self.resolver(host, port)
        if not addresses:
            raise FetchError("dns", f"{host} has no address")
        for address in addresses:
            reason = refusal(address, allow_loopback=self.allow_loopback)
            if reason is not None:
                raise AddressRefused(host, address, reason)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self.checked(host, port):
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # a host with several addresses: try the next one
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise FetchError("refused", "unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection is made by a ``GuardedBackend``.

    httpx takes no network backend, so the pool it built is replaced (``_pool``, named by a test so that an
    httpx upgrade that renames it fails loudly instead of quietly connecting unguarded).
    """

    def __init__(self, backend: GuardedBackend, *, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 10.0  # seconds for the whole answer, redirects included
    max_bytes: int = 2 * 1024 * 1024
    max_redirects: int = 3
    allow_loopback: bool = False
    user_agent: str = "Ticker"


@dataclass(frozen=True)
class Fetched:
    status: int  # 2xx, or 304 when the conditional request found nothing new
    body: bytes
    url: str  # after redirects
    etag: str | None
    last_modified: str | None
    content_type: str


def checked_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials, or FetchError("bad_url")."""
    if len(url) > 2000:
        raise FetchError("bad_url", "the address is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number
    except ValueError:
        raise FetchError("bad_url", f"{url[:200]!r} is not a valid address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("bad_url", f"{url[:200]!r} is not an http(s) address with a host")
    if parts.username is not None or parts.password is not None:
        raise FetchError("bad_url", "addresses with a user name or password are not fetched")
    del port
    return url


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    return float(raw) if raw.isdigit() and len(raw) < 8 else None


class Fetcher:
    """One HTTP client for a node's fetches (sources now, link cards later); ``aclose()`` it at shutdown."""

    def __init__(
        self,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.limits = limits
        self.guard = GuardedBackend(resolver, allow_loopback=limits.allow_loopback, inner=backend)
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(self.guard),
            trust_env=False,
            follow_redirects=False,  # followed in ``get``, each hop checked
            timeout=limits.timeout,
            headers={"User-Agent": limits.user_agent},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str = "*/*"
    ) -> Fetched:
        """GET ``url``, conditional on what the last answer said; FetchError for anything but 2xx or 304."""
        try:
            async with asyncio.timeout(self.limits.timeout):
                return await self._get(checked_url(url), etag, last_modified, accept)
        except TimeoutError:
            raise FetchError("timeout", f"no complete answer within {self.limits.timeout:g} s") from None

    async def _get(self, url: str, etag: str | None, last_modified: str | None, accept: str) -> Fetched:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(self.limits.max_redirects + 1):
            try:
                async with self.client.stream("GET", url, headers=headers) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        url = checked_url(urljoin(str(response.url), location))
                        continue
                    return await self._answer(response)
            except httpx.TimeoutException:
                raise FetchError("timeout", f"no complete answer within {self.limits.timeout:g} s") from None
            except httpx.DecodingError as exc:
                raise FetchError("connect", f"the answer could not be decoded: {exc}") from None
            except httpx.TransportError as exc:
                raise FetchError("connect", f"{type(exc).__name__}: {exc}"[:300]) from None
        raise FetchError("redirects", f"more than {self.limits.max_redirects} redirects")

    async def _answer(self, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status != 304 and not 200 <= status < 300:
            raise FetchError("status", f"HTTP {status}", status=status, retry_after=_retry_after(response))
        most = self.limits.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > most:
            raise FetchError("too_large", f"the answer is {int(declared)} bytes, more than {most}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > most:
                raise FetchError("too_large", f"the answer is more than {most} bytes")
        return Fetched(
            status=status,
            body=bytes(body),
            url=str(response.url),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=response.headers.get("content-type", ""),
        )
