"""A write through the API: the request's Idempotency-Key, and running a store write with it (a retry with the
same key answers with the first result and writes nothing new)."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse

from ticker.errors import Refused
from ticker.http.node import node
from ticker.store.accounts import Account
from ticker.store.audit import Actor
from ticker.store.sql import Idempotency, WriteOp
from ticker.textrules import Kind, problem


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, checked (it is stored), or None."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise Refused.invalid("Idempotency-Key", "Idempotency-Key must be 1 to 200 characters")
    if (found := problem(key, Kind.LINE)) is not None:  # it is stored
        raise Refused.invalid("Idempotency-Key", f"Idempotency-Key: {found}")
    return key


def idempotency(request: Request, account: Account, raw: bytes) -> Idempotency | None:
    key = idempotency_key(request)
    if key is None:
        return None
    fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + raw).hexdigest()
    return Idempotency(account.id, key, fingerprint)


async def run_write(request: Request, op: WriteOp, account: Account, raw: bytes, status: int = 200) -> JSONResponse:
    svc = node(request)
    result = await svc.store.write(op, actor=Actor.of(account), status=status, idem=idempotency(request, account, raw))
    if result.messages:
        svc.relay.notify(result.messages)
    return JSONResponse(result.body, status_code=result.status)
