"""The desk's form for an editor's urgent alert (the panel itself is ticker.http.push.desk_panel)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import Refused
from ticker.http.desk_page import checked_form, desk_login
from ticker.http.node import node
from ticker.http.params import form_text
from ticker.push import alerts
from ticker.roles import Action, refusal
from ticker.textrules import whole_number


async def urgent_alert(request: Request) -> Response:
    login = await desk_login(request)
    if isinstance(login, Response):
        return login
    form = await checked_form(request, login)
    account = login.account
    if not account.may(Action.SEND_URGENT_ALERT):
        raise Refused.forbidden(refusal(account.role, Action.SEND_URGENT_ALERT))
    entry = whole_number(form_text(form, "entry"))
    if entry is None:
        raise Refused.invalid("entry", "entry: choose the entry to send")
    slug = request.path_params["slug"]
    await alerts.send_urgent(node(request).store, slug, entry, account.display_name)
    node(request).push_sender.notify()
    return RedirectResponse(f"/desk/i/{slug}?alert=sent#push", status_code=303)


def routes() -> list[BaseRoute]:
    return [Route("/desk/i/{slug}/alert", urgent_alert, methods=["POST"])]
