"""/desk/status: every node live, for a newsroom without Grafana (like Centrifugo's admin UI). Admins only.

The page is complete as the server renders it; web/static/node-status.js refreshes its table every
``node_stats_seconds`` from ``/desk/status/nodes`` (JSON). The figures are ticker.node_stats': each node's own,
shared through Redis when there is one.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.errors import Refused
from ticker.http.desk_page import desk_login, desk_page
from ticker.http.desk_text import render_desk
from ticker.http.node import node
from ticker.http.session_auth import require_login
from ticker.roles import Action, refusal

TEXT: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Driftläge",
        "intro": "Varje nod som kör Ticker just nu. Siffrorna uppdateras var {seconds}:e sekund.",
        "node": "Nod",
        "address": "Adress",
        "readers": "Läsare",
        "readers_by_way": "{websocket} via websocket, {sse} via SSE",
        "incidents": "Händelser",
        "deliveries": "Leveranser per sekund",
        "relay_lag": "Reläets eftersläpning",
        "broker": "Broker",
        "seen": "Senast",
        "this_node": "den här noden",
        "listening": "ansluten",
        "not_listening": "nere",
        "relay_stuck": "reläet står still",
        "unknown": "okänt",
        "seconds": "{value} s",
        "updated": "Uppdaterad {time}.",
        "failed": "Kunde inte hämta läget. Försöker igen …",
        "logged_out": "Du är utloggad. Logga in igen för att se läget.",
        "no_nodes": "Inga noder har rapporterat ännu.",
    },
    "en": {
        "title": "Node status",
        "intro": "Every node running Ticker now. The figures are refreshed every {seconds} seconds.",
        "node": "Node",
        "address": "Address",
        "readers": "Readers",
        "readers_by_way": "{websocket} over websocket, {sse} over SSE",
        "incidents": "Incidents",
        "deliveries": "Deliveries per second",
        "relay_lag": "Relay lag",
        "broker": "Broker",
        "seen": "Last report",
        "this_node": "this node",
        "listening": "connected",
        "not_listening": "down",
        "relay_stuck": "relay stuck",
        "unknown": "unknown",
        "seconds": "{value} s",
        "updated": "Updated {time}.",
        "failed": "Could not fetch the status. Trying again …",
        "logged_out": "You have been logged out. Log in again to see the status.",
        "no_nodes": "No node has reported yet.",
    },
}


def _answer(request: Request) -> dict[str, Any]:
    return {"refresh_seconds": node(request).settings.node_stats_seconds, "nodes": node(request).nodes.all()}


async def status_page(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    if not login.account.may(Action.SEE_NODE_STATUS):
        return render_desk("not_found.html", request, status=404)
    return desk_page("desk/status.html", request, login, s=TEXT[i18n.language(request)], **_answer(request))


async def status_nodes(request: Request) -> JSONResponse:
    """The figures the page refreshes from (a session cookie; admins only)."""
    login = await require_login(request)
    if not login.account.may(Action.SEE_NODE_STATUS):
        raise Refused.forbidden(refusal(login.account.role, Action.SEE_NODE_STATUS))
    return JSONResponse(_answer(request), headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/desk/status", status_page, methods=["GET", "HEAD"]),
        Route("/desk/status/nodes", status_nodes, methods=["GET"]),
    ]
