"""Partners: sites that may embed our incidents, their allowed origins, and their readers per day.

An origin is stored normalised (``https://example.se``, default ports dropped). A subdomain pattern
(``https://*.example.se``) is stored only when the admin allows one explicitly. A partner follows every incident,
or only those listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ticker.errors import Refused
from ticker.store.audit import SYSTEM, Actor, AuditKind, created, diff, record
from ticker.store.sql import Store, now
from ticker.store.tables import Base, Incident, UTCDateTime
from ticker.store.tombstone import DELETED

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    every_incident: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PartnerOrigin(Base):
    __tablename__ = "partner_origins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(300), unique=True)


class PartnerIncident(Base):
    __tablename__ = "partner_incidents"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)


class PartnerReaderDay(Base):
    """Readers of one partner's embeds on one day (Europe/Stockholm): sockets opened, and the most at once."""

    __tablename__ = "partner_reader_days"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    opened: Mapped[int] = mapped_column(Integer)
    peak: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class PartnerInfo:
    id: int
    name: str
    origins: tuple[str, ...]
    incidents: tuple[str, ...] | None  # None: every incident

    def covers(self, slug: str) -> bool:
        return self.incidents is None or slug in self.incidents

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origins": list(self.origins),
            "incidents": None if self.incidents is None else list(self.incidents),
        }


@dataclass(frozen=True)
class ReaderCount:
    opened: int
    peak: int


def origin_entry(raw: str, allow_subdomains: bool = False) -> str:
    """An origin as we store it, or Invalid naming the ``origins`` field and what is wrong with it."""
    text = raw.strip().lower()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise Refused.invalid("origins", f"{raw!r} is not an origin like https://example.se") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Refused.invalid("origins", f"{raw!r} must start with https:// (or http://) and name a host")
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Refused.invalid("origins", f"{raw!r} is not an origin: give scheme, host and port only, without a path")
    host = parts.hostname
    if host.startswith("*."):
        if not allow_subdomains:
            raise Refused.invalid(
                "origins",
                f"{raw!r} is a subdomain pattern: allow it explicitly (allow_subdomains, --allow-subdomains)",
            )
        if host[2:].count(".") < 1:
            raise Refused.invalid("origins", f"{raw!r}: a subdomain pattern needs a domain of two labels or more")
        bare = host[2:]
    else:
        bare = host
    if not _HOST.match(bare):
        raise Refused.invalid("origins", f"{raw!r}: the host must be a DNS name (punycode, xn--…) or an IPv4 address")
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def _origin_entries(origins: Sequence[str], allow_subdomains: bool, max_origins: int) -> list[str]:
    if not origins:
        raise Refused.invalid("origins", "a partner needs at least one origin")
    if len(origins) > max_origins:
        raise Refused.invalid("origins", f"at most {max_origins} origins per partner")
    entries = [origin_entry(o, allow_subdomains) for o in origins]
    return list(dict.fromkeys(entries))


async def _incident_ids(session: AsyncSession, slugs: Sequence[str]) -> list[int]:
    standing = select(Incident.slug, Incident.id).where(Incident.slug.in_(slugs), Incident.status != DELETED)
    found = dict((await session.execute(standing)).all())
    for slug in slugs:
        if slug not in found:
            raise Refused.invalid("incidents", f"no incident {slug!r}")
    return [found[slug] for slug in dict.fromkeys(slugs)]


async def _set_origins(session: AsyncSession, partner: Partner, origins: list[str]) -> None:
    taken = await session.execute(
        select(PartnerOrigin.origin, Partner.name)
        .join(Partner, Partner.id == PartnerOrigin.partner_id)
        .where(PartnerOrigin.origin.in_(origins), PartnerOrigin.partner_id != partner.id)
    )
    for origin, owner in taken:
        raise Refused.conflict(f"origin {origin} belongs to partner {owner!r}", "origins")
    await session.execute(delete(PartnerOrigin).where(PartnerOrigin.partner_id == partner.id))
    session.add_all(PartnerOrigin(partner_id=partner.id, origin=o) for o in origins)


async def _set_incidents(session: AsyncSession, partner: Partner, incidents: Sequence[str] | None) -> None:
    partner.every_incident = incidents is None
    await session.execute(delete(PartnerIncident).where(PartnerIncident.partner_id == partner.id))
    if incidents is not None:
        ids = await _incident_ids(session, incidents)
        session.add_all(PartnerIncident(partner_id=partner.id, incident_id=i) for i in ids)


async def add_partner(
    store: Store,
    name: str,
    origins: Sequence[str],
    incidents: Sequence[str] | None = None,
    *,
    allow_subdomains: bool = False,
    max_origins: int,
    by: Actor = SYSTEM,
) -> PartnerInfo:
    if not NAME.match(name):
        raise Refused.invalid(
            "name", "name must be 1–64 lowercase letters, digits and hyphens, e.g. 'gp' or 'kommunen'"
        )
    entries = _origin_entries(origins, allow_subdomains, max_origins)
    async with store.writing() as session:
        if await session.scalar(select(Partner.id).where(Partner.name == name)) is not None:
            raise Refused.conflict(f"partner {name!r} exists", "name")
        partner = Partner(name=name, every_incident=True, created_at=now())
        session.add(partner)
        await session.flush()
        await _set_origins(session, partner, entries)
        await _set_incidents(session, partner, incidents)
        facts = created({"origins": entries, "incidents": None if incidents is None else list(incidents)})
        record(session, by, AuditKind.PARTNER_ADDED, subject=name, changes=facts)
    return await partner_info(store, name)


class Keep(Enum):
    """``incidents=KEEP``: leave the partner's incidents as they are."""

    KEEP = "keep"


KEEP = Keep.KEEP


async def change_partner(
    store: Store,
    name: str,
    *,
    origins: Sequence[str] | None = None,
    incidents: Sequence[str] | Keep | None = KEEP,
    allow_subdomains: bool = False,
    max_origins: int,
    by: Actor = SYSTEM,
) -> PartnerInfo:
    """Replace the partner's origins and/or incidents (``incidents=None``: every incident)."""
    entries = None if origins is None else _origin_entries(origins, allow_subdomains, max_origins)
    before = await partner_info(store, name)
    async with store.writing() as session:
        partner = await _partner(session, name)
        if entries is not None:
            await _set_origins(session, partner, entries)
        if not isinstance(incidents, Keep):
            await _set_incidents(session, partner, incidents)
        after = {
            "origins": before.view()["origins"] if entries is None else entries,
            "incidents": before.view()["incidents"] if isinstance(incidents, Keep) else incidents,
        }
        changes = diff(before.view(), {**before.view(), **after})
        record(session, by, AuditKind.PARTNER_CHANGED, subject=name, changes=changes)
    return await partner_info(store, name)


async def remove_partner(store: Store, name: str, *, by: Actor = SYSTEM) -> None:
    before = await partner_info(store, name)
    async with store.writing() as session:
        partner = await _partner(session, name)
        facts = {k: [v, None] for k, v in before.view().items() if k != "name"}
        record(session, by, AuditKind.PARTNER_REMOVED, subject=name, changes=facts)
        for table in (PartnerOrigin, PartnerIncident, PartnerReaderDay):
            await session.execute(delete(table).where(table.partner_id == partner.id))
        await session.delete(partner)


async def _partner(session: AsyncSession, name: str) -> Partner:
    partner = await session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise Refused.not_found("partner")
    return partner


async def partner_info(store: Store, name: str) -> PartnerInfo:
    for info in await partners(store, name):
        return info
    raise Refused.not_found("partner")


async def partners(store: Store, name: str | None = None) -> list[PartnerInfo]:
    """Every partner (or the one named) with its origins and incidents, by name."""
    query = select(Partner).order_by(Partner.name)
    if name is not None:
        query = query.where(Partner.name == name)
    async with store.reading() as session:
        found = list(await session.scalars(query))
        ids = [p.id for p in found]
        origins: dict[int, list[str]] = {i: [] for i in ids}
        for partner_id, origin in await session.execute(
            select(PartnerOrigin.partner_id, PartnerOrigin.origin)
            .where(PartnerOrigin.partner_id.in_(ids))
            .order_by(PartnerOrigin.id)
        ):
            origins[partner_id].append(origin)
        incidents: dict[int, list[str]] = {i: [] for i in ids}
        for partner_id, slug in await session.execute(
            select(PartnerIncident.partner_id, Incident.slug)
            .join(Incident, Incident.id == PartnerIncident.incident_id)
            .where(PartnerIncident.partner_id.in_(ids))
            .order_by(Incident.slug)
        ):
            incidents[partner_id].append(slug)
    return [
        PartnerInfo(p.id, p.name, tuple(origins[p.id]), None if p.every_incident else tuple(incidents[p.id]))
        for p in found
    ]


async def add_reader_counts(store: Store, day: date, counts: Mapping[int, ReaderCount]) -> None:
    """Add sockets opened to each partner's row for ``day``; keep the larger peak. Safe from several nodes."""
    if not counts:
        return
    insert = sqlite.insert if store.is_sqlite else postgresql.insert
    async with store.writing() as session:
        known = set(await session.scalars(select(Partner.id).where(Partner.id.in_(list(counts)))))
        for partner_id, count in counts.items():
            if partner_id not in known:
                continue  # removed meanwhile
            statement = insert(PartnerReaderDay).values(
                partner_id=partner_id, day=day, opened=count.opened, peak=count.peak
            )
            table, new = PartnerReaderDay.__table__, statement.excluded
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["partner_id", "day"],
                    set_={
                        "opened": table.c.opened + statement.excluded.opened,
                        "peak": case((table.c.peak > new.peak, table.c.peak), else_=new.peak),
                    },
                )
            )


async def reader_days(store: Store, name: str, days: int) -> list[dict[str, Any]]:
    """The partner's last ``days`` days with readers, newest first."""
    async with store.reading() as session:
        partner = await _partner(session, name)
        rows = await session.scalars(
            select(PartnerReaderDay)
            .where(PartnerReaderDay.partner_id == partner.id)
            .order_by(PartnerReaderDay.day.desc())
            .limit(days)
        )
        return [{"day": r.day.isoformat(), "opened": r.opened, "peak": r.peak} for r in rows]
