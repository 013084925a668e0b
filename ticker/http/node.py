"""How a handler reaches the node serving it: ``node(request).hub``, ``.store``, ``.settings`` and every other part.

The node's type is named for mypy only: ticker.node builds every part, some of them from modules in this
package, so importing it here would be a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from ticker.node import Node


def node(connection: HTTPConnection) -> Node:
    found: Node = connection.app.state.node  # set by the app's lifespan (ticker.app)
    return found
