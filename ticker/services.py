"""The node's services, wired once by the composition root (ticker.app) and reached from handlers."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ticker.broker import Broker
from ticker.config import Settings
from ticker.live.hub import Hub
from ticker.relay import Relay
from ticker.store.sql import Store


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    broker: Broker
    hub: Hub
    relay: Relay


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found
