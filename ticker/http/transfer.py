"""Moving and taking down an incident over the API: export it as a file, import a file, delete it (a takedown).

Who may is ticker.roles' table: editors export and import (at an address not in use), admins delete and import
back at a deleted incident's address (``restore``). The file is ticker.http.incident_file; the rows
ticker.store.transfer and ticker.store.takedown; what the nodes hold ticker.takedown.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import BrokerUnavailable, Refused
from ticker.http.auth import require
from ticker.http.incident_file import IncidentFile
from ticker.http.json_body import parse_body
from ticker.http.node import node
from ticker.http.params import flag
from ticker.roles import Action, refusal
from ticker.store.audit import Actor
from ticker.store.takedown import delete_incident
from ticker.store.transfer import read_incident, write_incident
from ticker.store.views import incident_view
from ticker.takedown import forget_everywhere
from ticker.textrules import SLUG

IMPORT_PATH = "/api/incidents/import"  # its body may be up to TICKER_IMPORT_MAX_BYTES (ticker.app's BodyLimit)


def file_view(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as JSON: the export's rows through the model an import reads them with."""
    return IncidentFile.model_validate(raw).model_dump(mode="json")


async def export_incident(request: Request) -> Response:
    await require(request, Action.EXPORT_INCIDENT)
    slug = request.path_params["slug"]
    body = file_view(await read_incident(node(request).store, slug))
    headers = {"Content-Disposition": f'attachment; filename="{slug}.json"', "Cache-Control": "no-store"}
    return JSONResponse(body, headers=headers)


async def import_incident(request: Request) -> Response:
    """A file as a new incident; 409 for an address in use, so sending it twice imports it once."""
    account = await require(request, Action.IMPORT_INCIDENT)
    restore = flag(request.query_params, "restore")
    if restore and not account.may(Action.DELETE_INCIDENT):
        raise Refused.forbidden(refusal(account.role, Action.DELETE_INCIDENT), "restore")
    slug = request.query_params.get("slug")
    if slug is not None and not SLUG.match(slug):
        raise Refused.invalid("slug", "slug: 1 to 80 lowercase letters, digits and hyphens, not starting with a hyphen")
    file, _raw = await parse_body(request, IncidentFile)
    svc = node(request)
    try:
        imported = await write_incident(
            svc.store,
            file,
            slug=slug or file.incident.slug,
            actor=Actor.of(account),
            restore=restore,
            stand_in=account.id,
            before_commit=svc.broker.forget,  # a stream left from before must not meet the new history
        )
    except BrokerUnavailable:
        raise Refused("unavailable", "Redis did not answer, so nothing was imported: try again") from None
    incident = await svc.store.incident(imported.slug)
    return JSONResponse({"incident": incident_view(incident), **imported.view()}, status_code=201)


async def take_down(request: Request) -> Response:
    """Delete an incident and everything it holds; every node forgets it and tells its open pages."""
    account = await require(request, Action.DELETE_INCIDENT)
    slug = request.path_params["slug"]
    svc = node(request)
    removed = await delete_incident(svc.store, slug, Actor.of(account))
    told = await forget_everywhere(svc.hub, svc.broker, node(request).notices, slug)
    if not (told.broker and told.nodes):
        raise Refused(
            "unavailable",
            "the incident is deleted, but Redis did not answer: its stream, or other nodes' open pages, may still "
            "show it. Send this DELETE again once Redis answers.",
        )
    return JSONResponse({"deleted": slug, "removed": removed.counts(), "readers_told": told.readers})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/incidents/{slug}/export", export_incident, methods=["GET"]),
        Route(IMPORT_PATH, import_incident, methods=["POST"]),
        Route("/api/incidents/{slug}", take_down, methods=["DELETE"]),
    ]
