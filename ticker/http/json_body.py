"""A JSON request body, checked before a handler sees it: the strict model every body is read into, the types
of its text fields (each one of ticker.textrules' kinds), ``parse_body``, and an entry's body and label."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from ticker import i18n
from ticker.errors import Refused
from ticker.http.node import node
from ticker.sanitize import clean_html
from ticker.textrules import SLUG, Line, MultiLine, Name, TooDeep, load_json, problem_in

# Every text field is one of ticker.textrules' types: no control characters (multi-line text may hold tabs and
# line breaks), and no bidi controls in titles, labels and names.
Title = Annotated[Name, Field(min_length=1, max_length=200)]
Text = Annotated[MultiLine, Field(max_length=2000)]
Label = Annotated[Name, Field(min_length=1, max_length=16)]
Url = Annotated[Line, Field(max_length=500, pattern=r"^https?://\S+$")]
Credit = Annotated[Name, Field(max_length=200)]
Category = Annotated[Line, Field(max_length=60)]
Location = Annotated[Line, Field(max_length=120)]
Slug = Annotated[Line, Field(pattern=SLUG.pattern)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    # The fields whose null means something, each documented (README.md, docs/embeds.md); a null given for any
    # other field is refused (422), never taken as "left out".
    nullable: ClassVar[frozenset[str]] = frozenset()


Model = TypeVar("Model", bound=Strict)
JSON_TYPE = "application/json"


def unsupported_media_type(message: str, field: str = "Content-Type") -> Refused:
    return Refused("unsupported_media_type", message, field)


async def parse_body(request: Request, model: type[Model]) -> tuple[Model, bytes]:
    """The request's JSON body as ``model``, and its bytes (for the Idempotency-Key's fingerprint).

    The body must be ``application/json`` in UTF-8 (415 otherwise); a request without a body (close, pin …)
    needs no Content-Type. Its nesting is bounded by ``max_json_depth`` before it is parsed."""
    raw = await request.body()
    if not raw.strip():
        raw = b"{}"
    else:
        _check_content_type(request.headers.get("content-type"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise unsupported_media_type("the request body is not UTF-8: send JSON in UTF-8", "body") from None
    try:
        data = load_json(text, node(request).settings.max_json_depth)
    except TooDeep as error:
        raise Refused.invalid("body", f"the request body is {error} (TICKER_MAX_JSON_DEPTH)") from None
    except ValueError:
        raise Refused.invalid("body", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused.invalid("body", "the request body must be a JSON object")
    for name, value in data.items():
        if value is None and name in model.model_fields and name not in model.nullable:
            raise Refused.invalid(name, f"{name}: must not be null")
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refused.invalid(field, f"{field}: {first['msg']}") from None
    # The fields' own types said what they refuse; this covers a model whose field was given a plain str.
    if (found := problem_in(data)) is not None:
        raise Refused.invalid(found[0], f"{found[0]}: {found[1]}")
    return parsed, raw


def _check_content_type(header: str | None) -> None:
    """``application/json``, with at most a ``charset=utf-8`` parameter; anything else is refused (415)."""
    kind, *params = (header or "").split(";")
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in params)
        if name.strip().lower() == "charset"
    ]
    if kind.strip().lower() != JSON_TYPE or len(params) != len(charsets) or charsets not in ([], ["utf-8"]):
        given = f"this one is {header[:100]!r}" if header else "this request has none"
        raise unsupported_media_type(f"Content-Type must be {JSON_TYPE} (UTF-8); {given}")


def entry_body(raw: str, max_chars: int) -> str:
    if len(raw) > max_chars:
        raise Refused.invalid("body", f"body: at most {max_chars} characters")
    body = clean_html(raw)
    if not body:
        raise Refused.invalid("body", "body: must not be empty")
    return body


def now_label() -> str:
    """An entry's label when it is given none: the time now in Stockholm ("14:05")."""
    return datetime.now(i18n.TIMEZONE).strftime("%H:%M")
