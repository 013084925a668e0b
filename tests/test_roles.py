"""Who may do what, from the one table (ticker/roles.py): for every role and action, the API's answer and whether
the desk shows the control agree with the table; and docs/newsroom.md carries the same table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.newsroom import PASSWORD, entry, login, open_desk, person
from tests.support.node import Node, node_settings, running_node
from ticker.roles import ROLES, Action, allowed, markdown_table
from ticker.store.accounts import user_by_name
from ticker.store.writes import Author, post_entry

ROOT = Path(__file__).parent.parent

# Actions the desk has no control for: the API alone is checked (tools and the OpenAPI document use them).
NO_DESK_CONTROL = {Action.EDIT_INCIDENT, Action.EXPORT_INCIDENT, Action.IMPORT_INCIDENT, Action.DELETE_INCIDENT}


def test_docs_newsroom_carries_the_table_of_ticker_roles() -> None:
    assert markdown_table() in (ROOT / "docs" / "newsroom.md").read_text()


async def shown(*controls: Locator) -> bool:
    """Whether the controls are shown; a role either gets all of them or none (anything else is a finding)."""
    found = {await control.is_visible() for control in controls}
    assert len(found) == 1, f"some of {controls} are shown and some are not"
    return found.pop()


async def call(page: Page, method: str, path: str, body: Any = None, form: dict[str, str] | None = None) -> int:
    """The status of a request made from the desk page with its session cookie and CSRF token."""
    status: int = await page.evaluate(
        """async ([method, path, body, form]) => {
            const csrf = JSON.parse(document.getElementById("desk-state").textContent).csrf;
            const init = form === null
                ? {method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                   body: body === null ? undefined : JSON.stringify(body)}
                : {method, body: new URLSearchParams({...form, csrf})};
            return (await fetch(path, init)).status;
        }""",
        [method, path, body, form],
    )
    return status


def answer(status: int, allowed_status: int) -> bool:
    assert status in (allowed_status, 403, 404), status  # anything else is not an answer about the role
    return status == allowed_status


def not_refused(status: int) -> bool:
    """For a request about something that does not exist: past the role check it is 404, else 403."""
    assert status in (403, 404), status
    return status == 404


async def own_entry(node: Node, slug: str, name: str, text: str) -> None:
    """An entry written by ``name`` whatever the role (a contributor's approved post is theirs too)."""
    account = await user_by_name(node.services.store, name)
    author = Author(account.id, account.display_name)
    await node.services.store.write(post_entry(slug, author, f"<p>{text}</p>", "12:00", False, False))


@pytest.mark.parametrize("role", ROLES)
async def test_the_api_and_the_desk_follow_the_roles_table(role: str, browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool = await node.reporter("verktyg", role="editor")
        contributor = await node.reporter("cia", role="contributor")
        live, to_close, closed = [await tool.incident(t) for t in ("Brand i hamnen", "Stormen", "Översvämning")]
        to_delete = await tool.incident("Felaktig händelse")
        exported = await tool.call("GET", f"/api/incidents/{to_delete}/export")
        await tool.call("POST", f"/api/incidents/{closed}/close")
        others = [(await tool.post(live, f"Verktyget skriver {n}."))["entry"]["id"] for n in (1, 2)]
        base = f"/api/incidents/{live}"
        pending = [
            (await contributor.call("POST", f"{base}/entries", 202, json={"body": "Rök syns."}))["submission"]["id"]
        ]
        await person(node, "pia", role)
        for n in (1, 2):
            await own_entry(node, live, "pia", f"Pia skriver {n}.")
        mine = [e["id"] for e in (await tool.state(live))["entries"].values() if e["body"].startswith("<p>Pia")]

        page = await login(browser, node, "pia", PASSWORD)
        desk: dict[Action, bool] = {
            Action.OPEN_INCIDENT: await shown(page.locator("#incident-form")),
            # The "Händelser" panel's item buttons (dismiss, watch, start a ticker) are made by desk-sources.js
            # when the panel says so; with no items yet, that attribute is the control.
            Action.ACT_ON_SOURCE_ITEMS: await shown(page.locator("#tips[data-editor=true]")),
            Action.HANDLE_TIPS: await shown(page.locator("#reader-tips")),  # the readers' tips queue
        }
        await page.goto(f"{node.url}/desk/sources")
        desk[Action.MANAGE_SOURCES] = await shown(page.locator("#source-form"))
        await open_desk(page, node, closed)
        desk[Action.REOPEN_INCIDENT] = await shown(page.locator(".reopen-incident"))
        await open_desk(page, node, live)
        await expect(entry(page, "Verktyget skriver 1.")).to_be_visible()
        own, others_entry = entry(page, "Pia skriver 1."), entry(page, "Verktyget skriver 1.")
        await expect(own).to_be_visible()
        post_button = page.locator("button.post")
        desk |= {
            Action.CLOSE_INCIDENT: await shown(page.locator(".close-incident")),
            Action.POST_ENTRY: await post_button.text_content() == "Publicera",
            Action.SUBMIT_ENTRY: await post_button.text_content() == "Skicka för granskning",
            Action.CHANGE_OWN_ENTRY: await shown(own.locator("button.edit"), own.locator("button.retract")),
            Action.CHANGE_ANY_ENTRY: await shown(
                others_entry.locator("button.edit"), others_entry.locator("button.retract")
            ),
            Action.PIN_ENTRY: await shown(others_entry.locator("button.pin"), page.locator("input[name=pinned]")),
            Action.MANAGE_USERS: await shown(page.locator(".desk-bar a[href='/desk/users']")),
            Action.SEE_NODE_STATUS: await shown(page.locator(".desk-bar a[href='/desk/status']")),
            Action.MANAGE_PARTNERS: await shown(page.locator(".desk-bar a[href='/desk/partners']")),
            Action.SEE_AUDIT_LOG: await shown(page.locator(".desk-bar a[href='/desk/audit']")),
            Action.SEND_URGENT_ALERT: await shown(page.locator("#push form.push-urgent")),
        }
        if allowed(role)[Action.REVIEW_SUBMISSIONS]:  # wait for the queue, which newsroom.js fills in
            await expect(page.locator(".submissions .submission")).to_have_count(1)
        desk[Action.REVIEW_SUBMISSIONS] = await shown(page.locator(".submissions .submission button.approve"))

        # Then the API, as the same person (session cookie and CSRF token), for every action.
        posted = await call(page, "POST", f"{base}/entries", {"body": "Pia rapporterar."})
        assert posted in (201, 202), posted
        api = {
            Action.OPEN_INCIDENT: answer(await call(page, "POST", "/api/incidents", {"title": "Ny händelse"}), 201),
            Action.EDIT_INCIDENT: answer(await call(page, "PATCH", base, {"summary": "Ändrad."}), 200),
            Action.CLOSE_INCIDENT: answer(await call(page, "POST", f"/api/incidents/{to_close}/close", {}), 200),
            Action.REOPEN_INCIDENT: answer(await call(page, "POST", f"/api/incidents/{closed}/reopen", {}), 200),
            Action.POST_ENTRY: posted == 201,
            Action.SUBMIT_ENTRY: posted == 202,
            Action.PIN_ENTRY: {
                answer(await call(page, "POST", f"{base}/entries/{others[0]}/pin", {}), 200),
                answer(await call(page, "POST", f"{base}/entries", {"body": "Fäst mig.", "pinned": True}), 201),
            },
            Action.CHANGE_OWN_ENTRY: {
                answer(await call(page, "PATCH", f"{base}/entries/{mine[0]}", {"body": "Pia ändrar."}), 200),
                answer(await call(page, "POST", f"{base}/entries/{mine[1]}/retract", {}), 200),
            },
            Action.CHANGE_ANY_ENTRY: {
                answer(await call(page, "PATCH", f"{base}/entries/{others[0]}", {"body": "Pia ändrar."}), 200),
                answer(await call(page, "POST", f"{base}/entries/{others[1]}/retract", {}), 200),
            },
            Action.REVIEW_SUBMISSIONS: answer(
                await call(page, "POST", f"{base}/submissions/{pending[0]}/approve", {}), 200
            ),
            Action.MANAGE_USERS: answer(await call(page, "POST", "/desk/users", form=new_user("nils")), 201),
            Action.SEND_URGENT_ALERT: answer(await call(page, "POST", f"{base}/alerts", {"entry": others[0]}), 201),
            Action.MANAGE_PARTNERS: answer(await call(page, "GET", "/api/partners"), 200),
            Action.SEE_NODE_STATUS: answer(await call(page, "GET", "/desk/status/nodes"), 200),
            Action.EXPORT_INCIDENT: answer(await call(page, "GET", f"/api/incidents/{live}/export"), 200),
            Action.IMPORT_INCIDENT: answer(await call(page, "POST", "/api/incidents/import?slug=kopia", exported), 201),
            Action.DELETE_INCIDENT: answer(await call(page, "DELETE", f"/api/incidents/{to_delete}"), 200),
            Action.SEE_AUDIT_LOG: answer(await call(page, "GET", "/desk/audit/export"), 200),
            Action.MANAGE_SOURCES: not_refused(await call(page, "DELETE", "/api/sources/999999")),
            Action.ACT_ON_SOURCE_ITEMS: not_refused(
                await call(page, "POST", "/api/sources/items/999999/state", {"state": "dismissed"})
            ),
            Action.HANDLE_TIPS: not_refused(await call(page, "POST", "/api/tips/999999/discard", {})),
        }

    table = allowed(role)
    found = {}
    for action in Action:
        by_api = api[action]
        if isinstance(by_api, set):  # two requests for one action: both must give the same answer
            assert len(by_api) == 1, f"{role} {action}: the API allows one of its requests and refuses the other"
            by_api = by_api.pop()
        by_desk = None if action in NO_DESK_CONTROL else desk[action]
        found[action.value] = (by_api, by_desk)
    expected = {a.value: (table[a.value], None if a in NO_DESK_CONTROL else table[a.value]) for a in Action}
    assert found == expected, f"{role}: (API, desk) per action differ from ticker/roles.py"


def new_user(name: str) -> dict[str, str]:
    return {"name": name, "display_name": name.title(), "role": "reporter", "password": "ett långt lösenord"}
