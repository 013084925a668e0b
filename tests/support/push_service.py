"""A local push service on loopback, for testing Web Push without the internet.

It does what a browser's push service does with a message, and checks what a real one checks: the VAPID
``Authorization: vapid t=<JWT>,k=<key>`` header (RFC 8292) must carry an ES256 JWT whose signature verifies over
the key in ``k`` (which the test compares with the key the node publishes), whose audience is this service's
origin and which has not expired; TTL and Urgency must be there and the body must be ``aes128gcm``. Then it does
the browser's part too: each ``Browser`` holds a subscription's private key and auth secret, made as a browser
makes them (a P-256 key pair and 16 random bytes), and the body is decrypted with them (RFC 8291, by the
http_ece package), so a test reads the alert as the service worker would.

A test can make a subscription gone (410, as a push service says for one the browser dropped) and take the
whole service down (nothing listens on its port) and back up on the same port.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.services import free_port


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push subscription: its address at the service, and the keys only the browser holds."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives a page."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain: bytes = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        found: dict[str, Any] = json.loads(plain)
        return found


@dataclass(frozen=True)
class Push:
    """A message the service took and checked: the browser's, its headers, the JWT's claims, the alert."""

    browser: int
    headers: dict[str, str]
    claims: dict[str, Any]
    vapid_key: str
    alert: dict[str, Any]


class PushService:
    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.browsers: list[Browser] = []
        self.pushes: list[Push] = []
        self.refused: list[str] = []  # what failed the checks: a test expects none
        self.gone: set[int] = set()  # browsers whose subscription the service has dropped (410)
        self.attempts = 0  # every POST that reached the service, accepted or not
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def browser(self) -> Browser:
        """A new browser subscribed at this service."""
        self.browsers.append(Browser(f"{self.origin}/push/{len(self.browsers)}"))
        return self.browsers[-1]

    def pushes_to(self, browser: Browser) -> list[Push]:
        return [p for p in self.pushes if p.browser == self.browsers.index(browser)]

    # Up and down.

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, lifespan="off", log_config=None, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Down: nothing listens on the port (connections are refused) until ``start`` again."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    # The service.

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.attempts += 1
        status = self.take(scope["method"], scope["path"], headers, body)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def take(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        number = path.removeprefix("/push/")
        if method != "POST" or not number.isdigit() or int(number) >= len(self.browsers):
            return 404
        index = int(number)
        if index in self.gone:
            return 410
        try:
            claims, key = self.check_vapid(headers.get("authorization", ""))
            for name in ("ttl", "urgency"):
                assert name in headers, f"no {name} header"
            assert headers.get("content-encoding") == "aes128gcm", headers.get("content-encoding")
            alert = self.browsers[index].decrypt(body)
        except Exception as problem:  # anything a real service would refuse
            self.refused.append(f"{path}: {problem!r}")
            return 400
        self.pushes.append(Push(index, headers, claims, key, alert))
        return 201

    def check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, params = authorization.partition(" ")
        assert scheme.lower() == "vapid", f"not a vapid Authorization: {authorization[:40]!r}"
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        token, key = parts["t"], parts["k"]
        signed, _, signature = token.rpartition(".")
        header = json.loads(unb64url(signed.split(".")[0]))
        assert header.get("alg") == "ES256", header
        raw = unb64url(signature)
        assert len(raw) == 64, "an ES256 signature is r and s, 32 bytes each"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        try:
            public.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AssertionError("the JWT's signature does not verify over the key in k") from None
        claims: dict[str, Any] = json.loads(unb64url(signed.split(".")[1]))
        assert claims.get("aud") == self.origin, f"audience {claims.get('aud')!r}, not {self.origin!r}"
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600, "exp must be within 24 hours"
        assert claims.get("sub"), "no sub claim"
        return claims, key


@asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    """A PushService on a free loopback port, for the length of the block."""
    service = PushService()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
