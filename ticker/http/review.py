"""The newsroom's JSON beside the reporter API: contributors' submissions, their approval, and entry history.

None of it is public: every handler needs an account (bearer token, or session cookie with CSRF token).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ticker.http.auth import require, require_account
from ticker.http.idempotency import idempotency, run_write
from ticker.http.json_body import Strict, parse_body
from ticker.http.link_cards import replayed, submission_body, with_notes
from ticker.http.node import node
from ticker.http.params import path_id
from ticker.roles import Action
from ticker.store.newsroom import history, submissions
from ticker.store.writes import approve_submission, author_of, reject_submission
from ticker.textrules import MultiLine


class RejectIn(Strict):
    nullable = frozenset({"reason"})  # no reason given, as when left out
    reason: Annotated[MultiLine, Field(max_length=1000)] | None = None


async def list_submissions(request: Request) -> JSONResponse:
    """Editors: every pending submission. Others: their own, decided ones too (and why one was rejected)."""
    account = await require_account(request)
    incident = await node(request).store.incident(request.path_params["slug"])
    author_id = None if account.may(Action.REVIEW_SUBMISSIONS) else account.id
    found = await submissions(node(request).store, incident, author_id=author_id)
    return JSONResponse({"submissions": found})


async def approve(request: Request) -> JSONResponse:
    account = await require(request, Action.REVIEW_SUBMISSIONS)
    _data, raw = await parse_body(request, Strict)
    slug, number = request.path_params["slug"], path_id(request, "submission_id")
    # Its link cards are made now, when it is published, as a post's are (and not again for a retry).
    if (replay := await replayed(request, idempotency(request, account, raw))) is not None:
        return replay
    body = await submission_body(node(request).store, slug, number)
    made = await node(request).link_cards.make(body) if body is not None else None
    op = approve_submission(slug, number, author_of(account), (made.body, made.cards) if made else None)
    return await run_write(request, with_notes(op, made.notes if made else []), account, raw)


async def reject(request: Request) -> JSONResponse:
    account = await require(request, Action.REVIEW_SUBMISSIONS)
    data, raw = await parse_body(request, RejectIn)
    op = reject_submission(
        request.path_params["slug"], path_id(request, "submission_id"), author_of(account), data.reason or None
    )
    return await run_write(request, op, account, raw)


async def entry_history(request: Request) -> JSONResponse:
    await require_account(request)
    store = node(request).store
    incident = await store.incident(request.path_params["slug"])
    return JSONResponse({"history": await history(store, incident, path_id(request, "entry_id"))})


def routes() -> list[BaseRoute]:
    submission = "/api/incidents/{slug}/submissions/{submission_id}"
    return [
        Route("/api/incidents/{slug}/submissions", list_submissions, methods=["GET"]),
        Route(submission + "/approve", approve, methods=["POST"]),
        Route(submission + "/reject", reject, methods=["POST"]),
        Route("/api/incidents/{slug}/entries/{entry_id}/history", entry_history, methods=["GET"]),
    ]
