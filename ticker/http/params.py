"""A request's parameters, one rule each: an incident's slug in the path, a whole number (an id, a cursor), a
yes/no flag, a form's text field, and where an event stream resumes (``since``). A refusal names the
parameter."""

from __future__ import annotations

from typing import overload

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request

from ticker.errors import Refused
from ticker.textrules import SLUG, WHOLE_NUMBER, Kind, problem, whole_number

# The one yes/no vocabulary of query parameters (key_events, exact, title, compact, link, restore …), in any case.
# A parameter given with no value (``?compact``) is yes, as an HTML boolean attribute is (an embed's data-compact).
YES = frozenset({"1", "true", "yes", "on", ""})
NO = frozenset({"0", "false", "no", "off"})


def incident_slug(request: Request) -> str:
    """The path's ``slug``; an address no incident can have is not found."""
    slug: str = request.path_params["slug"]
    if not SLUG.match(slug):
        raise Refused.not_found("incident")
    return slug


def path_id(request: Request, name: str) -> int:
    """A whole number in the path (``/entries/{entry_id}``)."""
    number = whole_number(request.path_params[name])
    if number is None:
        raise Refused.invalid(name, f"{name.replace('_', ' ')} must be {WHOLE_NUMBER}")
    return number


@overload
def query_number(request: Request, name: str) -> int | None: ...
@overload
def query_number(request: Request, name: str, default: int) -> int: ...
def query_number(request: Request, name: str, default: int | None = None) -> int | None:
    """A whole number in the query (a cursor, a limit); ``default`` when it is not given."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    number = whole_number(raw)
    if number is None:
        raise Refused.invalid(name, f"{name} must be {WHOLE_NUMBER}")
    return number


def flag(query: QueryParams, name: str, default: bool = False) -> bool:
    """A yes/no parameter in the one vocabulary (YES, NO); ``default`` when it is not given."""
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() in YES:
        return True
    if raw.lower() in NO:
        return False
    raise Refused.invalid(name, f"{name} must be 1 or 0 (true or false, yes or no, on or off)")


def form_text(form: FormData, name: str, kind: Kind = Kind.LINE) -> str:
    """A form's text field ("" when it has none); ``invalid`` naming the field when it holds a control
    character (or, for a name, a bidi control): see ticker.textrules. Every form field is read through here."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if (found := problem(value, kind)) is not None:
        raise Refused.invalid(name, f"{name}: {found}")
    return value


def since(request: Request) -> int | None:
    """The last seq an event stream's reader has: EventSource's Last-Event-ID header when it reconnects by
    itself, else ``?since=``; None for a reader that starts afresh."""
    for field, raw in (
        ("Last-Event-ID", request.headers.get("last-event-id")),
        ("since", request.query_params.get("since")),
    ):
        if raw is not None:
            number = whole_number(raw)
            if number is None:
                raise Refused.invalid(field, f"{field} must be {WHOLE_NUMBER}")
            return number
    return None
