"""The desk's admin pages: users (add, change role, disable, enable, delete, reset password, revoke tokens),
partner sites (list, remove) and the audit log (paged, filtered, exported); and the page a reset link opens.

Server-rendered forms with the session's CSRF token, like the rest of the desk; no script. Who may do what is
ticker.roles' (``manage_users``, ``manage_partners``, ``see_audit_log``): anyone else gets 403. A change that
ends someone's sessions closes the live sockets those sessions opened, on this node at once and on the others
through ticker.notices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ticker import i18n
from ticker.errors import CloseCode, Refused
from ticker.http import csrf
from ticker.http.admin_text import admin_text
from ticker.http.desk_page import checked_form, desk_login, desk_page
from ticker.http.desk_text import TEXT as DESK_TEXT
from ticker.http.desk_text import render_desk
from ticker.http.errors import status_of
from ticker.http.node import node
from ticker.http.params import form_text, query_number
from ticker.http.partnership import end_partnership
from ticker.logs import log_event
from ticker.passwords import check_password
from ticker.roles import ROLES, Action, refusal
from ticker.store import admin, audit
from ticker.store.accounts import USER_NAME, add_user
from ticker.store.audit import Actor
from ticker.store.logins import Login
from ticker.store.partners import partners
from ticker.store.sql import Store
from ticker.textrules import Kind, problem, whole_number

USER_FIELDS = ("name", "display_name", "role")
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


async def _allowed(request: Request, action: Action) -> Login | Response:
    """The page's login if its role may do ``action``; else the login form's redirect or a 403 page."""
    login = await desk_login(request)
    if isinstance(login, Login) and not login.account.may(action):
        message = refusal(login.account.role, action)
        return desk_page("desk/forbidden.html", request, login, status=403, a=admin_text(request), message=message)
    return login


async def end_sockets(request: Request, sessions: list[int], reason: str) -> int:
    """Close the live sockets the ended ``sessions`` opened: here now, on the other nodes when they hear of it."""
    closed = sum(node(request).hub.close_owned(s, CloseCode.SESSION_ENDED, reason) for s in sessions)
    for session in sessions:
        await node(request).notices.logged_out(session)
    return closed


# Users.


async def _users_page(request: Request, login: Login, status: int = 200, **context: Any) -> Response:
    found = await admin.users(node(request).store)
    context.setdefault("form", dict.fromkeys(USER_FIELDS, ""))
    return desk_page(
        "desk/users.html", request, login, status, users=found, roles=ROLES, a=admin_text(request), **context
    )


async def users_page(request: Request) -> Response:
    login = await _allowed(request, Action.MANAGE_USERS)
    if isinstance(login, Response):
        return login
    return await _users_page(request, login)


async def user_add(request: Request) -> Response:
    login = await _allowed(request, Action.MANAGE_USERS)
    if isinstance(login, Response):
        return login
    form = await checked_form(request, login)
    problem_text: str | None
    try:
        fields = {k: form_text(form, k, Kind.NAME).strip() for k in USER_FIELDS}
    except Refused as error:  # the form again, saying which field; what was typed is not shown back
        if error.code != "invalid":
            raise
        fields, problem_text = dict.fromkeys(USER_FIELDS, ""), error.message
    else:
        settings = node(request).settings
        by = Actor.of(login.account)
        problem_text = await _new_user(node(request).store, fields, form, settings.password_min_chars, by)
    status = 422 if problem_text else 201
    return await _users_page(request, login, status, form=fields, add_problem=problem_text, added=not problem_text)


async def _new_user(store: Store, fields: dict[str, str], form: FormData, min_chars: int, by: Actor) -> str | None:
    """Add the user the form describes (ticker.http.admin's users page); None once it is added, else what is
    wrong (the password under ticker.passwords' policy)."""
    if not USER_NAME.match(fields["name"]):
        return "name: 1–64 lower-case letters, digits, '.', '_' or '-'"
    try:
        password = form_text(form, "password")
        if not password:
            return "password: required"
        check_password(password, min_chars, fields["name"], fields["display_name"])
        byline = fields["display_name"] or fields["name"]
        await add_user(store, fields["name"], byline, fields["role"], password, by=by)
    except Refused as error:
        return error.message
    return None


UserChange = Callable[[Request, Login, int, dict[str, str]], Awaitable[dict[str, Any]]]


def user_change(change: UserChange) -> Callable[[Request], Awaitable[Response]]:
    """A POST about one user (``/desk/users/{user_id}/…``): the admin's role and the CSRF token checked, then
    ``change``, whose answer (what to tell the admin) or refusal is shown on the users page."""

    async def handler(request: Request) -> Response:
        login = await _allowed(request, Action.MANAGE_USERS)
        if isinstance(login, Response):
            return login
        form = await checked_form(request, login)
        user_id = whole_number(request.path_params["user_id"])
        if user_id is None:
            raise Refused.not_found("user")
        fields = {name: form_text(form, name, Kind.NAME) for name in ("role", "confirm")}
        try:
            told = await change(request, login, user_id, fields)
        except Refused as error:
            if error.code == "not_found":
                raise
            return await _users_page(request, login, status_of(error), problem=error.message)
        return await _users_page(request, login, **told)

    return handler


async def _role(request: Request, login: Login, user_id: int, form: dict[str, str]) -> dict[str, Any]:
    changed = await admin.set_role(node(request).store, user_id, form["role"], Actor.of(login.account))
    role = DESK_TEXT[i18n.language(request)][f"role_{changed.role}"]
    return {"notice": admin_text(request)["role_changed"].format(name=changed.name, role=role)}


async def _disable(request: Request, login: Login, user_id: int, _form: dict[str, str]) -> dict[str, Any]:
    account, ended = await admin.disable(node(request).store, user_id, Actor.of(login.account))
    closed = await end_sockets(request, ended, "account disabled")
    log_event("user_disabled", user=account.name, by=login.account.name, sessions=len(ended), closed_sockets=closed)
    return {"notice": admin_text(request)["user_disabled"].format(name=account.name)}


async def _enable(request: Request, login: Login, user_id: int, _form: dict[str, str]) -> dict[str, Any]:
    account = await admin.enable(node(request).store, user_id, Actor.of(login.account))
    return {"notice": admin_text(request)["user_enabled"].format(name=account.name)}


async def _delete(request: Request, login: Login, user_id: int, form: dict[str, str]) -> dict[str, Any]:
    if form["confirm"] != "yes":
        raise Refused.invalid("confirm", "confirm: tick the box to delete the user")
    account, ended = await admin.delete(node(request).store, user_id, Actor.of(login.account))
    closed = await end_sockets(request, ended, "account deleted")
    log_event("user_deleted", user=account.name, by=login.account.name, sessions=len(ended), closed_sockets=closed)
    return {"notice": admin_text(request)["user_deleted"].format(name=account.name, byline=account.display_name)}


async def _reset(request: Request, login: Login, user_id: int, _form: dict[str, str]) -> dict[str, Any]:
    settings = node(request).settings
    lifetime = settings.password_reset_seconds
    account, token = await admin.create_reset(node(request).store, user_id, Actor.of(login.account), lifetime)
    until = i18n.when(datetime.now(UTC) + timedelta(seconds=lifetime), i18n.language(request))
    text = admin_text(request)["reset_link"].format(name=account.name, until=until)
    return {"notice": text, "reset_link": f"{settings.resolved_public_url()}/reset/{token}"}


async def _revoke_tokens(request: Request, login: Login, user_id: int, _form: dict[str, str]) -> dict[str, Any]:
    account, revoked = await admin.revoke_tokens(node(request).store, user_id, Actor.of(login.account))
    return {"notice": admin_text(request)["tokens_revoked"].format(name=account.name, n=len(revoked))}


# Partners.


async def partners_page(request: Request, status: int = 200, **context: Any) -> Response:
    login = await _allowed(request, Action.MANAGE_PARTNERS)
    if isinstance(login, Response):
        return login
    found = await partners(node(request).store)
    counts = node(request).presence.counts("partners")
    rows = [(p, counts[p.name]) for p in found]
    return desk_page("desk/partners.html", request, login, status, partners=rows, a=admin_text(request), **context)


async def partner_remove(request: Request) -> Response:
    login = await _allowed(request, Action.MANAGE_PARTNERS)
    if isinstance(login, Response):
        return login
    form = await checked_form(request, login)
    name = request.path_params["name"]
    if form_text(form, "confirm") != "yes":
        raise Refused.invalid("confirm", "confirm: tick the box to remove the partner")
    await end_partnership(request, name, Actor.of(login.account))
    return await partners_page(request, notice=admin_text(request)["partner_removed"].format(name=name))


# The audit log.


def _filter(request: Request) -> audit.Filter:
    """The audit page's and the export's filters, from the query; 422 naming the field when one is unusable."""
    values: dict[str, str | None] = {}
    for name, longest in (("actor", audit.NAME_CHARS), ("incident", 80), ("kind", 32)):
        value = request.query_params.get(name, "").strip()
        if len(value) > longest or (found := problem(value, Kind.NAME)) is not None:
            raise Refused.invalid(
                name, f"{name}: {found if len(value) <= longest else f'at most {longest} characters'}"
            )
        values[name] = value or None
    kind = values["kind"]
    if kind is not None and kind not in audit.kind_choices():
        raise Refused.invalid("kind", f"kind must be one of {', '.join(audit.kind_choices())}")
    return audit.Filter(values["actor"], values["incident"], kind)


async def audit_page(request: Request) -> Response:
    login = await _allowed(request, Action.SEE_AUDIT_LOG)
    if isinstance(login, Response):
        return login
    where = _filter(request)
    before = query_number(request, "before")
    size = node(request).settings.audit_page_size
    rows = await audit.page(node(request).store, where, before=before, limit=size + 1)
    older = rows[size - 1]["id"] if len(rows) > size else None
    query = {k: v for k, v in (("actor", where.actor), ("incident", where.incident), ("kind", where.kind)) if v}
    context: dict[str, Any] = {
        "rows": [{**r, "changes_text": audit.compact(r["changes"])} for r in rows[:size]],
        "where": where,
        "query": query,
        "older": older,
        "first": before is not None,
        "kinds": audit.kind_choices(),
    }
    return desk_page("desk/audit.html", request, login, a=admin_text(request), **context)


async def audit_export(request: Request) -> Response:
    """Every row the filters pick, oldest first, as CSV or JSON lines (``format``), streamed in batches."""
    login = await _allowed(request, Action.SEE_AUDIT_LOG)
    if isinstance(login, Response):
        return login
    where = _filter(request)
    kind = request.query_params.get("format", "jsonl")
    if kind not in EXPORT_TYPES:
        raise Refused.invalid("format", "format must be 'csv' or 'jsonl'")
    rows = audit.every(node(request).store, where)
    name = f"ticker-audit-{datetime.now(UTC):%Y%m%d-%H%M%S}.{kind}"
    return StreamingResponse(
        audit.export_lines(rows, kind),
        media_type=EXPORT_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# A reset link.


async def _reset_form(request: Request, status: int = 200, **context: Any) -> Response:
    return render_desk("desk/reset.html", request, status=status, a=admin_text(request), **context)


async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    account = await admin.reset_account(node(request).store, token) if len(token) <= 100 else None
    if account is None:
        return await _reset_form(request, 404, invalid=True)
    return await _reset_form(request, account=account, token=token)


async def reset_submit(request: Request) -> Response:
    """Set the password the person chose (the policy of ticker.passwords), spend the link, end their sessions.
    The token in the path is what lets them in; the form must come from our own origin too."""
    token = request.path_params["token"]
    store = node(request).store
    account = await admin.reset_account(store, token) if len(token) <= 100 else None
    if account is None:
        return await _reset_form(request, 404, invalid=True)
    if not csrf.from_own_origin(request, required=False):
        raise csrf.cross_site("Origin", "requests from another origin are refused")
    form = await request.form()
    password, again = form_text(form, "password"), form_text(form, "again")
    problem_text = admin_text(request)["passwords_differ"] if password != again else None
    if problem_text is None:
        try:
            check_password(password, node(request).settings.password_min_chars, account.name, account.display_name)
            account, ended = await admin.use_reset(store, token, password)
        except Refused as error:
            if error.code == "not_found":
                return await _reset_form(request, 404, invalid=True)
            problem_text = error.message
        else:
            await end_sockets(request, ended, "password changed")
            log_event("password_reset", user=account.name, sessions=len(ended))
            return await _reset_form(request, done=True)
    return await _reset_form(request, 422, account=account, token=token, problem=problem_text)


def routes() -> list[BaseRoute]:
    one = "/desk/users/{user_id}"
    return [
        Route("/desk/users", users_page, methods=["GET", "HEAD"]),
        Route("/desk/users", user_add, methods=["POST"]),
        Route(one + "/role", user_change(_role), methods=["POST"]),
        Route(one + "/disable", user_change(_disable), methods=["POST"]),
        Route(one + "/enable", user_change(_enable), methods=["POST"]),
        Route(one + "/delete", user_change(_delete), methods=["POST"]),
        Route(one + "/reset", user_change(_reset), methods=["POST"]),
        Route(one + "/revoke-tokens", user_change(_revoke_tokens), methods=["POST"]),
        Route("/desk/partners", partners_page, methods=["GET", "HEAD"]),
        Route("/desk/partners/{name}/remove", partner_remove, methods=["POST"]),
        Route("/desk/audit", audit_page, methods=["GET", "HEAD"]),
        Route("/desk/audit/export", audit_export, methods=["GET"]),
        Route("/reset/{token}", reset_page, methods=["GET", "HEAD"]),
        Route("/reset/{token}", reset_submit, methods=["POST"]),
    ]
