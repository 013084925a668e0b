"""The node's gate for live connections: what opening one needs, for both ways in, and the node's stop.

Most readers are answered on their connection's first bytes (ticker.live.direct), through ``Lane.open_now``: no
session cookie and an origin this node can admit from memory. Every other connection reaches the ``live``
endpoint (ticker.http.live), where starlette does the handshake, origin and session checks and then hands the
socket over. Either way the connection gets a ``LiveSession`` (ticker.live.session).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ticker.config import Settings
from ticker.errors import CloseCode
from ticker.http.origins import OriginPolicy
from ticker.live.hub import Hub
from ticker.live.session import LiveSession
from ticker.logs import log_event
from ticker.partner_readers import PartnerReaders

LANE_STATE = "ticker.live_lane"  # the lifespan-state key under which the handshake finds the Lane


@dataclass(eq=False)
class Lane:
    """What opening a live connection needs from the node, for both ways in."""

    settings: Settings
    hub: Hub
    origins: OriginPolicy
    partner_readers: PartnerReaders
    opened: Counter[str] = field(default_factory=Counter)  # connections opened, by way in (/healthz)
    stopping: bool = False

    def stop(self) -> None:
        """The server is stopping: every reader, SSE streams too, is told to come back (1012) at once."""
        if not self.stopping:
            self.stopping = True
            closed = self.hub.close_all(CloseCode.SERVICE_RESTART, "service restart")
            log_event("readers_closed", reason="node stopping", readers=closed)

    def open_now(self, origin: str | None, partner_name: str | None) -> LiveSession | None:
        """A session for a connection that can be admitted without waiting; None: the app decides."""
        admitted = self.origins.admit_now(origin, partner_name)
        if admitted is None or self.hub.full:
            return None
        self.opened["direct"] += 1
        return LiveSession(self, admitted, way="direct")
