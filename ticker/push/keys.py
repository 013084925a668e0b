"""The installation's VAPID key pair (RFC 8292), made once and kept in SQL, so that every node signs alike.

Browsers tie a subscription to the public key the page gave ``pushManager.subscribe`` (its
``applicationServerKey``); a push service refuses a message signed by any other key. So the pair is made by the
first node that needs it and read by every other: two nodes making it at once both insert row 1, one insert
fails on the primary key, and that node reads the winner's.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ticker.push.tables import PushKey
from ticker.store.sql import Store, now

ROW = 1


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Base64url with or without its padding (browsers leave it out); ValueError for anything else."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


@dataclass(frozen=True)
class VapidKeys:
    private_pem: str
    public_key: str  # base64url of the uncompressed point: what pages give pushManager.subscribe


def generate() -> VapidKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKeys(pem, b64url(point))


async def load_or_create(store: Store) -> VapidKeys:
    """The installation's key pair, made now if no node has made it yet."""
    found = await _load(store)
    if found is not None:
        return found
    made = generate()
    try:
        async with store.writing() as session:
            session.add(PushKey(id=ROW, private_pem=made.private_pem, public_key=made.public_key, created_at=now()))
    except IntegrityError:
        pass  # another node made it first: use that one
    found = await _load(store)
    assert found is not None
    return found


async def _load(store: Store) -> VapidKeys | None:
    async with store.reading() as session:
        row = (await session.execute(select(PushKey.private_pem, PushKey.public_key).where(PushKey.id == ROW))).first()
    return VapidKeys(row[0], row[1]) if row is not None else None
