"""The API's OpenAPI 3.1 document (``/api/openapi.json``), built from ticker.http.api_operations, and its
reference page (``/api/docs``, ticker.http.api_reference): from our own origin, nothing from a CDN."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ticker import __version__, i18n
from ticker.config import Settings
from ticker.http.api_operations import (
    ANSWERS,
    BODY_EXAMPLES,
    CACHE_HEADERS,
    IDEMPOTENCY_KEY,
    NOT_MODIFIED,
    REF,
    REFUSALS,
    REQUESTS,
    SLUG_PARAM,
    Operation,
    operations,
)
from ticker.http.api_reference import CHROME, inline_code, reference
from ticker.http.node import node
from ticker.http.render import render
from ticker.http.session_auth import SESSION_COOKIE
from ticker.roles import DESCRIPTIONS


def error_schema() -> dict[str, Any]:
    return {
        "title": "Error",
        "description": "Every refusal: a code, the problem in words, and the field at fault when there is one.",
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A code a program can test, e.g. `invalid`."},
            "message": {"type": "string", "description": "What is wrong, for a person."},
            "field": {"type": "string", "description": "The body field, parameter or header at fault."},
        },
        "additionalProperties": False,
    }


def error_response(status: int, settings: Settings) -> dict[str, Any]:
    refusal = REFUSALS[status]
    schema: dict[str, Any] = {"$ref": REF.format(model="Error")}
    if refusal.codes is not None:
        schema = {"allOf": [schema, {"properties": {"error": {"enum": list(refusal.codes)}}}]}
    when = refusal.when.replace("TICKER_MAX_BODY_BYTES", f"{settings.max_body_bytes} bytes (TICKER_MAX_BODY_BYTES)")
    when = when.replace(
        "TICKER_BODY_TIMEOUT_SECONDS", f"{settings.body_timeout_seconds:g} s (TICKER_BODY_TIMEOUT_SECONDS)"
    )
    return {"description": when, "content": {"application/json": {"schema": schema}}}


# The document.


def _security(op: Operation) -> list[dict[str, list[str]]]:
    session: dict[str, list[str]] = {"session": [], "csrf": []} if op.method != "GET" else {"session": []}
    return [{"bearer": []}, session]


def _operation(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Done." if op.status < 300 else ""}
    if op.answer is not None:
        success["content"] = {op.media_type: {"schema": {"$ref": REF.format(model=op.answer.__name__)}}}
    elif op.path == "/api/openapi.json":
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    elif op.media_type != "application/json":
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    if op.status == 204:
        success["description"] = "Done: no body."
    if op.also == NOT_MODIFIED:
        success["headers"] = CACHE_HEADERS
    responses: dict[str, Any] = {str(op.status): success}
    for status, (description, model) in op.also.items():
        responses[str(status)] = {"description": description}
        if model is not None:
            responses[str(status)]["content"] = {
                "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}
            }
    errors = set(op.errors) | {422}  # any URL: control characters in the path or query (ticker.http.limits)
    if op.needs_account:
        errors |= {401, 403}  # 403: the role, or a session request's Origin or CSRF token
    if any(p["in"] == "path" for p in op.all_parameters):
        errors.add(404)
    if SLUG_PARAM in op.all_parameters:
        errors.add(410)  # a deleted incident (ticker.store.tombstone)
    if op.body is not None:
        errors |= {408, 413, 415}  # 408: a body that is too slow (ticker.partial_requests)
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/{REFUSALS[status].name}"}
    found: dict[str, Any] = {
        "operationId": _operation_id(op),
        "tags": [op.tag],
        "summary": op.summary,
        "responses": responses,
    }
    if op.description:
        found["description"] = op.description
    parameters = [*op.all_parameters, *([IDEMPOTENCY_KEY] if op.idempotent else [])]
    if parameters:
        found["parameters"] = parameters
    if op.needs_account:
        found["security"] = _security(op)
    if op.may:  # who may, from ticker.roles: the actions and the roles that have one of them
        found["x-ticker-may"] = {action.value: DESCRIPTIONS[action] for action in op.may}
        found["x-ticker-roles"] = op.roles
    if op.body is not None and op.body_type == "multipart/form-data":
        found["requestBody"] = {
            "required": True,
            "description": "A form (multipart/form-data) with a file.",
            "content": {
                "multipart/form-data": {
                    "schema": {"$ref": REF.format(model=op.body.__name__)},
                    "example": BODY_EXAMPLES[op.body.__name__],
                    "encoding": {"file": {"contentType": "image/*, application/octet-stream"}},
                }
            },
        }
    elif op.body is not None:
        found["requestBody"] = {
            "required": op.body_required,
            "description": "A JSON object" + ("" if op.body_required else " (or no body at all)") + ".",
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=op.body.__name__)},
                    "example": BODY_EXAMPLES[op.body.__name__],
                }
            },
        }
    return found


def _operation_id(op: Operation) -> str:
    words = [w.strip("{}") for w in op.path.split("/") if w and w != "api"]
    return op.method.lower() + "".join(w.replace("_", " ").title().replace(" ", "").replace(".", "") for w in words)


def _refuse_nulls(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """An optional field is ``X | None`` in the model, but ticker.http.json_body.parse_body refuses a null for any
    field not in the model's ``nullable``: the schema says so, keeping null only where it means something."""
    nullable = getattr(model, "nullable", None)
    if nullable is None:
        return
    for name, prop in schema.get("properties", {}).items():
        branches = prop.get("anyOf", [])
        if name in nullable or {"type": "null"} not in branches:
            continue
        rest = [b for b in branches if b != {"type": "null"}]
        del prop["anyOf"]
        if prop.get("default", ...) is None:
            del prop["default"]  # left out, it is None inside; given, it may not be null
        prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})


def _restore_patterns(schema: Any, twin: Any) -> None:
    """Copy each ``pattern`` of ``twin`` (the same model's serialization-mode schema) that ``schema`` lacks.

    A pattern on a string type that carries a validator (ticker.textrules' Line, Name …) is checked by pydantic in
    a chained step whose JSON schema shows in serialization mode only, while the length limits show in validation
    mode only: the request bodies' schemas need both."""
    if isinstance(schema, dict) and isinstance(twin, dict):
        if "pattern" in twin and "pattern" not in schema and schema.get("type") == "string":
            schema["pattern"] = twin["pattern"]
        for key, value in schema.items():
            _restore_patterns(value, twin.get(key))
    elif isinstance(schema, list) and isinstance(twin, list) and len(schema) == len(twin):
        for value, other in zip(schema, twin, strict=True):
            _restore_patterns(value, other)


def _components(settings: Settings) -> dict[str, Any]:
    _refs, found = models_json_schema([(m, "validation") for m in (*REQUESTS, *ANSWERS)], ref_template=REF)
    schemas: dict[str, Any] = found["$defs"]
    _refs, twins = models_json_schema([(m, "serialization") for m in REQUESTS], ref_template=REF)
    for model in REQUESTS:
        _restore_patterns(schemas[model.__name__], twins["$defs"][model.__name__])
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)  # pydantic's title per property only repeats its name
    for model in REQUESTS:
        _refuse_nulls(schemas[model.__name__], model)
    # Limits that are settings, not model constraints: checked by the handlers, documented with their values.
    schemas["EntryIn"]["properties"]["body"]["maxLength"] = settings.max_entry_chars
    schemas["EntryIn"]["properties"]["body"]["description"] = "At most TICKER_MAX_ENTRY_CHARS characters."
    schemas["EntryIn"]["properties"]["photos"]["maxItems"] = settings.photo_max_per_entry
    for name in ("alt", "credit", "caption"):  # TICKER_PHOTO_TEXT_MAX_CHARS
        schemas["PhotoForm"]["properties"][name]["maxLength"] = settings.photo_text_max_chars
    schemas["Error"] = error_schema()
    schemas["Strict"]["description"] = "An empty JSON object."
    return {
        "schemas": dict(sorted(schemas.items())),
        "responses": {r.name: error_response(status, settings) for status, r in REFUSALS.items()},
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token: `Authorization: Bearer tk_…` (`ticker token create`, or the "
                "desk's Tokens page). Tools and scripts use it; it needs no CSRF token.",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": "The newsroom desk's login session (POST /login). A state-changing request with it "
                "must come from our own Origin and carry the session's CSRF token too.",
            },
            "csrf": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRF-Token",  # ticker.http.csrf.HEADER, as the desk's script spells it
                "description": "The session's CSRF token, which the desk's pages carry.",
            },
        },
    }


@lru_cache(maxsize=8)
def _document(settings: Settings) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    found = operations(settings)
    for op in found:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.site_name} API",
            "version": __version__,
            "description": "Live incident tickers: JSON over HTTP. Reads are public; writes need an account "
            "(a bearer token, or the newsroom desk's session). Live updates are not here: they arrive over the "
            "websocket /live, or /sse (see docs/protocol.md). Text refuses control characters (multi-line text may "
            "hold tabs and line breaks), and names and labels refuse bidirectional controls too: 422. Every answer "
            "carries `X-Request-ID`: the request's own when it sent a usable one, else a new one, for its log lines.",
        },
        "servers": [{"url": settings.resolved_public_url()}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in found)],
        "paths": paths,
        "components": _components(settings),
    }


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this node's API (its limits are this node's settings): a copy, the caller's."""
    return copy.deepcopy(_document(settings))


# Handlers.


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document(node(request).settings))


async def reference_page(request: Request) -> Response:
    doc = document(node(request).settings)
    chrome = CHROME[i18n.language(request)]
    return render("api.html", request, api=reference(doc), chrome=chrome, code=inline_code)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/docs", reference_page, methods=["GET"]),
    ]
