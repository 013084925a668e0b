"""Readers' tips and questions over HTTP: the form's POST and its pages (thanks, refusal, deletion), and the desk's
JSON API (editors: ``handle_tips`` in ticker.roles).

The form is a plain ``multipart/form-data`` POST to ``/tips`` that works without JavaScript. No account and no
cookie: what keeps another site from sending it is ticker.tips.form (Origin or Referer, a signed short-lived
token); what keeps one sender from flooding it is the rate limit per address (ticker.tips.store.take), the
honeypot, the size limits, and duplicate suppression. A browser gets a page in its language; anything that asks
for JSON gets ``{"error", "message", "field"}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.errors import Code, Refused
from ticker.http.auth import require
from ticker.http.error_pages import wants_page
from ticker.http.errors import error_response, status_of
from ticker.http.idempotency import run_write
from ticker.http.json_body import Strict, entry_body, now_label, parse_body
from ticker.http.node import node
from ticker.http.params import path_id
from ticker.http.render import localized, render
from ticker.media.images import PhotoRefused
from ticker.media.pool import PhotoBusy
from ticker.roles import Action
from ticker.store.writes import author_of
from ticker.textrules import SLUG, Kind, MultiLine, problem
from ticker.tips import form as tip_form
from ticker.tips.store import (
    KINDS,
    NewTip,
    answer_tip,
    discard,
    photo_of,
    remove,
    remove_by_code,
    take,
    tip_views,
)

SUBMIT_PATH = "/tips"
CODE_CHARS = 40  # a deletion code is 16 characters; anything much longer is not one


class TipRefused(Exception):
    """A tip refused, with the page's text for it (a key of ticker.i18n's strings, filled with ``values``)."""

    def __init__(self, code: Code, message: str, field: str, text: str, **values: Any) -> None:
        super().__init__(message)
        self.refused = Refused(code, message, field)
        self.text = text
        self.values = values


def _page(request: Request, status: int, title: str, lines: list[str], back: str, **context: Any) -> Response:
    response = render("tip_result.html", request, status=status, title=title, lines=lines, back=back, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(request: Request, slug: str | None) -> str:
    return localized(f"/i/{slug}" if slug else "/", i18n.language(request))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _photo(request: Request, form: FormData) -> bytes | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(node(request).settings.photo_max_bytes + 1)
    if not data:
        return None
    try:
        processed = await node(request).photos.pool.process(data)  # the node's photo workers: decoded, encoded afresh
    except PhotoRefused as refused:
        raise TipRefused(
            "invalid", f"photo: {refused.message}", "photo", "tip_error_photo", reason=refused.message
        ) from None
    except PhotoBusy:
        raise TipRefused("busy", "the photo workers are busy: send again", "photo", "tip_error_busy") from None
    largest = processed.of_format("jpeg")[-1]  # what the desk shows: no metadata survives the new encoding
    return largest.data


async def _read(request: Request) -> NewTip:
    """The form, checked: each refusal names its field and says why in the reader's language."""
    settings = node(request).settings
    if not tip_form.from_our_page(request):
        raise TipRefused("csrf", "a tip must be sent from our own page", "Origin", "tip_error_origin")
    async with request.form(max_files=1, max_fields=20) as form:  # its files are closed on the way out
        if not tip_form.token_ok(_field(form, "token"), await node(request).tips.key(), settings.tip_form_seconds):
            raise TipRefused(
                "csrf", "the form's token is missing or too old: reload the page", "token", "tip_error_expired"
            )
        if _field(form, tip_form.TRAP):
            raise TipRefused("invalid", f"{tip_form.TRAP} must be left empty", tip_form.TRAP, "tip_error_trap")
        kind = _field(form, "kind") or "tip"
        if kind not in KINDS:
            raise TipRefused("invalid", f"kind must be one of {', '.join(KINDS)}", "kind", "tip_error_text")
        body = _field(form, "body").strip()
        if not body:
            raise TipRefused("invalid", "body is required", "body", "tip_error_empty")
        if len(body) > settings.tip_max_chars:
            n = settings.tip_max_chars
            raise TipRefused("invalid", f"body is over {n} characters", "body", "tip_error_long", n=n)
        fields = {"body": (body, Kind.MULTILINE)}  # each checked as its kind of text may be
        name, contact = _field(form, "name").strip(), _field(form, "contact").strip()
        for field, value in (("name", name), ("contact", contact)):
            if len(value) > settings.tip_contact_max_chars:
                n = settings.tip_contact_max_chars
                raise TipRefused("invalid", f"{field} is over {n} characters", field, "tip_error_field_long", n=n)
            fields[field] = (value, Kind.NAME if field == "name" else Kind.LINE)
        for field, (value, kind_of_text) in fields.items():
            if (found := problem(value, kind_of_text)) is not None:
                raise TipRefused("invalid", f"{field}: {found}", field, "tip_error_text")
        slug = _field(form, "incident") or None
        if slug is not None and not SLUG.match(slug):
            raise TipRefused("invalid", "incident is not an incident's address", "incident", "tip_error_text")
        photo = await _photo(request, form)
        return NewTip(slug, kind, body, name, _field(form, "may_name") in ("1", "on", "yes"), contact, photo)


async def submit(request: Request) -> Response:
    """POST /tips: the thank-you page (with the reader's deletion link), or the refusal in their language."""
    svc = node(request)
    strings = i18n.STRINGS[i18n.language(request)]
    slug: str | None = None
    try:
        tip = await _read(request)
        slug = tip.incident
        taken = await take(
            svc.store,
            tip,
            key=await node(request).tips.key(),
            address=tip_form.client_address(request),
            per_client=svc.settings.tips_per_client,
            window_seconds=svc.settings.tips_window_seconds,
        )
    except TipRefused as refused:
        return _refusal(request, refused.refused, strings[refused.text].format(**refused.values), slug)
    except Refused as refused:
        text = {"rate_limited": "tip_error_rate", "conflict": "tip_error_closed", "not_found": "not_found"}
        if refused.code not in text:
            raise
        return _refusal(request, refused, strings[text[refused.code]], None if refused.code == "not_found" else slug)
    if taken.id is not None:
        await node(request).tips.changed([taken.id])
    if not wants_page(request):
        return JSONResponse(
            {"tip": taken.id, "deletion_code": taken.code or None}, status_code=201 if taken.id else 200
        )
    if taken.id is None:
        return _page(request, 200, strings["tip_thanks_title"], [strings["tip_already"]], _back(request, slug))
    link = svc.settings.resolved_public_url() + localized(f"/tips/delete/{taken.code}", i18n.language(request))
    return _page(
        request,
        201,
        strings["tip_thanks_title"],
        [strings["tip_thanks"]],
        _back(request, slug),
        deletion_link=link,
        deletion_code=taken.code,
    )


def _refusal(request: Request, error: Refused, text: str, slug: str | None) -> Response:
    if not wants_page(request):
        return error_response(error)
    strings = i18n.STRINGS[i18n.language(request)]
    return _page(request, status_of(error), strings["tip_refused_title"], [text], _back(request, slug))


def _code(request: Request) -> str:
    code: str = request.path_params["code"]
    if len(code) > CODE_CHARS or not code.replace("-", "").replace("_", "").isalnum():
        raise Refused.not_found("tip")
    return code


async def delete_page(request: Request) -> Response:
    """GET /tips/delete/{code}: the reader's confirmation (a GET deletes nothing: link previews follow links)."""
    strings = i18n.STRINGS[i18n.language(request)]
    code = _code(request)
    return _page(request, 200, strings["tip_delete_title"], [], localized("/", i18n.language(request)), confirm=code)


async def delete_by_code(request: Request) -> Response:
    """POST /tips/delete/{code}: the tip and everything the reader sent are deleted; the desks drop it."""
    strings = i18n.STRINGS[i18n.language(request)]
    if not tip_form.from_our_page(request):
        error = Refused("csrf", "a deletion must be sent from our own page", "Origin")
        return _refusal(request, error, strings["tip_error_origin"], None)
    gone = await remove_by_code(node(request).store, _code(request))
    back = localized("/", i18n.language(request))
    if gone is None:
        if not wants_page(request):
            return error_response(Refused.not_found("tip"))
        return _page(request, 404, strings["tip_delete_title"], [strings["tip_delete_unknown"]], back)
    await node(request).tips.changed([gone])
    if not wants_page(request):
        return JSONResponse({"deleted": gone})
    return _page(request, 200, strings["tip_delete_title"], [strings["tip_deleted"]], back)


# The desk's API.


class AnswerIn(Strict):
    answer: Annotated[MultiLine, Field(min_length=1, max_length=5000)]
    incident: Annotated[str, Field(pattern=SLUG.pattern)] | None = None  # a general tip's incident
    with_name: bool = False  # name the reader (only where they agreed)


async def list_tips(request: Request) -> JSONResponse:
    await require(request, Action.HANDLE_TIPS)
    svc = node(request)
    return JSONResponse({"tips": await tip_views(svc.store, limit=svc.settings.tips_desk_items)})


async def answer(request: Request) -> JSONResponse:
    """POST /api/tips/{id}/answer: the answer as an entry, "Fråga från en läsare: … Svar: …" (201)."""
    account = await require(request, Action.HANDLE_TIPS)
    data, raw = await parse_body(request, AnswerIn)
    tip_id = path_id(request, "tip_id")
    settings = node(request).settings
    label = now_label()

    def clean(body: str) -> str:
        return entry_body(body, settings.max_entry_chars)

    op = answer_tip(tip_id, data.incident, data.answer, data.with_name, label, author_of(account), clean)
    response = await run_write(request, op, account, raw, 201)
    await node(request).tips.changed([tip_id])
    return response


async def discard_tip(request: Request) -> JSONResponse:
    account = await require(request, Action.HANDLE_TIPS)
    await parse_body(request, Strict)
    tip_id = path_id(request, "tip_id")
    await discard(node(request).store, tip_id, account.display_name)
    await node(request).tips.changed([tip_id])
    return JSONResponse({"tip": (await tip_views(node(request).store, ids=[tip_id]))[0]})


async def delete_tip(request: Request) -> Response:
    await require(request, Action.HANDLE_TIPS)
    tip_id = path_id(request, "tip_id")
    await remove(node(request).store, tip_id)
    await node(request).tips.changed([tip_id])
    return Response(status_code=204)


async def tip_photo(request: Request) -> Response:
    """The photo a reader sent (its metadata gone), for the editors only."""
    await require(request, Action.HANDLE_TIPS)
    data = await photo_of(node(request).store, path_id(request, "tip_id"))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def routes() -> list[BaseRoute]:
    tip = "/api/tips/{tip_id}"
    return [
        Route(SUBMIT_PATH, submit, methods=["POST"]),
        Route("/tips/delete/{code}", delete_page, methods=["GET"]),
        Route("/tips/delete/{code}", delete_by_code, methods=["POST"]),
        Route("/api/tips", list_tips, methods=["GET"]),
        Route(tip + "/answer", answer, methods=["POST"]),
        Route(tip + "/discard", discard_tip, methods=["POST"]),
        Route(tip, delete_tip, methods=["DELETE"]),
        Route(tip + "/photo", tip_photo, methods=["GET"]),
    ]
