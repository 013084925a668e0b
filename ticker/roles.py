"""Who may do what: the one table of actions × roles.

The API refuses what a role may not do (403), the desk shows only the controls of what the person may do (it
gets ``allowed(role)`` in its state), and docs/newsroom.md carries ``markdown_table()``; tests check all three
against ``RULES``. Change a rule here and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

ROLES = ("admin", "editor", "reporter", "contributor")


class Action(StrEnum):
    OPEN_INCIDENT = "open_incident"
    EDIT_INCIDENT = "edit_incident"  # title, summary, category, location, photo
    CLOSE_INCIDENT = "close_incident"
    REOPEN_INCIDENT = "reopen_incident"
    EXPORT_INCIDENT = "export_incident"  # as a file: entries, their history, events (ticker.http.incident_file)
    IMPORT_INCIDENT = "import_incident"  # such a file, as an incident at an address not in use
    DELETE_INCIDENT = "delete_incident"  # a takedown, and importing back at a deleted incident's address
    POST_ENTRY = "post_entry"  # published at once
    SUBMIT_ENTRY = "submit_entry"  # kept until an editor approves it (202, no event before that)
    CHANGE_OWN_ENTRY = "change_own_entry"  # edit and retract one's own entries
    CHANGE_ANY_ENTRY = "change_any_entry"  # edit and retract anyone's
    PIN_ENTRY = "pin_entry"  # pin and unpin, and post an entry pinned ("pinned": true)
    SEND_URGENT_ALERT = "send_urgent_alert"  # a Web Push alert to an incident's followers, past the hourly bound
    REVIEW_SUBMISSIONS = "review_submissions"  # see every pending submission, approve and reject
    MANAGE_USERS = "manage_users"
    MANAGE_PARTNERS = "manage_partners"
    MANAGE_SOURCES = "manage_sources"  # the public sources the desk's "Händelser" panel follows
    ACT_ON_SOURCE_ITEMS = "act_on_source_items"  # dismiss or watch a source's item, start a ticker from it
    SEE_NODE_STATUS = "see_node_status"  # /desk/status: the whole installation's nodes
    HANDLE_TIPS = "handle_tips"  # readers' tips and questions: see them (contact details too), answer, discard, delete
    SEE_AUDIT_LOG = "see_audit_log"  # /desk/audit: who changed what, and its export


EDITORS = frozenset({"admin", "editor"})

# Pinning puts one entry above everything else on the reader page, for every reader: an editorial decision
# about the whole incident, like opening and closing it, so it is the editors'. Reporters decide about their
# own entries, including marking one as a key event.
RULES: dict[Action, frozenset[str]] = {
    Action.OPEN_INCIDENT: EDITORS,
    Action.EDIT_INCIDENT: EDITORS,
    Action.CLOSE_INCIDENT: EDITORS,
    Action.REOPEN_INCIDENT: EDITORS,
    Action.EXPORT_INCIDENT: EDITORS,
    Action.IMPORT_INCIDENT: EDITORS,
    Action.DELETE_INCIDENT: frozenset({"admin"}),  # it cannot be undone but by an import of an export
    Action.POST_ENTRY: EDITORS | {"reporter"},
    Action.SUBMIT_ENTRY: frozenset({"contributor"}),
    Action.CHANGE_OWN_ENTRY: EDITORS | {"reporter"},
    Action.CHANGE_ANY_ENTRY: EDITORS,
    Action.PIN_ENTRY: EDITORS,
    Action.SEND_URGENT_ALERT: EDITORS,  # it reaches every follower's screen, whatever the hour's count
    Action.REVIEW_SUBMISSIONS: EDITORS,
    Action.MANAGE_USERS: frozenset({"admin"}),
    Action.MANAGE_PARTNERS: frozenset({"admin"}),
    Action.MANAGE_SOURCES: frozenset({"admin"}),
    Action.ACT_ON_SOURCE_ITEMS: EDITORS,
    Action.SEE_NODE_STATUS: frozenset({"admin"}),
    Action.HANDLE_TIPS: EDITORS,
    Action.SEE_AUDIT_LOG: frozenset({"admin"}),
}

# What each action is, for people: the rows of docs/newsroom.md's table and the API's 403 messages.
DESCRIPTIONS: dict[Action, str] = {
    Action.OPEN_INCIDENT: "open an incident",
    Action.EDIT_INCIDENT: "change an incident's title, summary, category, location and photo",
    Action.CLOSE_INCIDENT: "close an incident",
    Action.REOPEN_INCIDENT: "reopen a closed incident",
    Action.EXPORT_INCIDENT: "export an incident as a file, with its entries, their history and its events",
    Action.IMPORT_INCIDENT: "import an incident from such a file, at an address not in use",
    Action.DELETE_INCIDENT: "delete an incident and everything it holds (a takedown), or import one back there",
    Action.POST_ENTRY: "post an entry, published at once",
    Action.SUBMIT_ENTRY: "post an entry that waits for an editor's approval",
    Action.CHANGE_OWN_ENTRY: "edit and retract their own entries",
    Action.CHANGE_ANY_ENTRY: "edit and retract anyone's entries",
    Action.PIN_ENTRY: "pin and unpin entries, also by posting one pinned",
    Action.SEND_URGENT_ALERT: "send an entry to the incident's followers as an urgent alert, past the hourly limit",
    Action.REVIEW_SUBMISSIONS: "approve and reject contributors' posts",
    Action.MANAGE_USERS: "add users, change their roles, disable, enable and delete them, reset their passwords"
    " and revoke their tokens",
    Action.MANAGE_PARTNERS: "manage partner sites",
    Action.MANAGE_SOURCES: "add, change and remove the public sources the desk follows",
    Action.ACT_ON_SOURCE_ITEMS: "dismiss or watch a source's item, or start a ticker from it",
    Action.SEE_NODE_STATUS: "see the nodes' status",
    Action.HANDLE_TIPS: "see readers' tips and questions with their contact details, answer, discard and delete them",
    Action.SEE_AUDIT_LOG: "see and export the audit log",
}


def may(role: str, action: Action) -> bool:
    return role in RULES[action]


def may_change_entry(role: str, own: bool) -> bool:
    """Whether ``role`` may edit or retract an entry (``own``: the person wrote it)."""
    return may(role, Action.CHANGE_ANY_ENTRY) or (own and may(role, Action.CHANGE_OWN_ENTRY))


def allowed(role: str) -> dict[str, bool]:
    """Every action and whether ``role`` may do it: the desk's ``may`` state."""
    return {action.value: may(role, action) for action in Action}


def refusal(role: str, action: Action) -> str:
    """The 403's message."""
    article = "an" if role[:1] in "aeiou" else "a"
    return f"{article} {role} may not {DESCRIPTIONS[action]}"


def markdown_table() -> str:
    """The table in docs/newsroom.md (a test keeps the two equal)."""
    lines = ["| action | may | " + " | ".join(f"`{role}`" for role in ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    for action in Action:
        marks = " | ".join("yes" if may(role, action) else "–" for role in ROLES)
        lines.append(f"| `{action.value}` | {DESCRIPTIONS[action]} | {marks} |")
    return "\n".join(lines) + "\n"
