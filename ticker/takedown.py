"""A takedown on the nodes: once the store has deleted an incident (ticker.store.takedown), nothing a node holds
may show it again.

The node that handles the request forgets the incident in its hub (its recent frames, its shared snapshot, and
its readers, who are told: ``deleted``, then 4101 for a connection that followed nothing else), removes its
broker stream, and announces it on the notices stream (ticker.notices), which every other node reads and does
the same on. A node that was away from Redis meanwhile reads the notice when it is back; its readers that
reconnect first are told by the store itself (a subscribe to a deleted incident answers ``deleted``). Repeating
a takedown repeats this part, so an admin whose takedown found Redis away sends it again once Redis is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ticker.broker import Broker
from ticker.errors import BrokerUnavailable
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.notices import Notices

NOTICE = "incident_deleted"


@dataclass(frozen=True)
class Told:
    readers: int  # on this node
    broker: bool  # its stream removed
    nodes: bool  # the other nodes told (always, embedded: there are none)


async def forget_everywhere(hub: Hub, broker: Broker, notices: Notices, slug: str) -> Told:
    """Forget a deleted incident on this node, in the broker and, through the notices stream, on every node."""
    readers = hub.forget(slug)
    try:
        await broker.forget(slug)
        removed = True
    except BrokerUnavailable as exc:
        log_event("takedown_broker_failed", logging.WARNING, incident=slug, error=str(exc))
        removed = False
    nodes = await notices.announce(NOTICE, incident=slug)
    return Told(readers, removed, nodes)


def listen(notices: Notices, hub: Hub) -> None:
    """Forget the incidents other nodes deleted."""

    def heard(notice: dict[str, Any]) -> None:
        slug = str(notice["incident"])
        log_event("incident_forgotten", incident=slug, readers=hub.forget(slug))

    notices.on(NOTICE, heard)
