"""The API reference page (api.html): an OpenAPI document read for a person. The page's own words are in the
reader's language; the reference itself is in English, like the document."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from ticker.http.api_operations import REFUSALS

CHROME = {
    "sv": {
        "title": "API-referens",
        "intro": "Ticker har ett JSON-API för redaktionens verktyg och för partner. Referensen nedan är på "
        "engelska och byggs från samma modeller som servern kontrollerar anropen med.",
        "machine": "Maskinläsbar beskrivning (OpenAPI 3.1):",
        "contents": "Innehåll",
        "auth": "Inloggning",
        "errors": "Felsvar",
        "schemas": "Datatyper",
    },
    "en": {
        "title": "API reference",
        "intro": "Ticker has a JSON API for the newsroom's tools and for partners. The reference below is built "
        "from the same models the server validates requests with.",
        "machine": "Machine-readable (OpenAPI 3.1):",
        "contents": "Contents",
        "auth": "Authentication",
        "errors": "Errors",
        "schemas": "Schemas",
    },
}


def who(op: dict[str, Any]) -> str:
    """Who may call an operation, from its security and ticker.roles' actions (``x-ticker-may``)."""
    if "security" not in op:
        return "Public: no credentials."
    if "x-ticker-may" not in op:
        return "Any account: bearer token or desk session."
    actions = "; ".join(f"{name}: {what}" for name, what in op["x-ticker-may"].items())
    return f"Roles {', '.join(op['x-ticker-roles'])} ({actions}): bearer token or desk session."


@dataclass(frozen=True)
class Row:
    name: str
    where: str
    type: Markup
    rules: str
    required: bool
    description: str


@dataclass(frozen=True)
class Reply:
    status: str
    description: str
    type: Markup | None


@dataclass(frozen=True)
class Documented:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    who: str
    parameters: list[Row]
    body: Markup | None
    body_required: bool
    example: str | None
    replies: list[Reply]
    body_type: str = "JSON"  # or "a form": multipart/form-data (a photo)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> Markup:
    """Text from the document, escaped, its `code spans` in <code>."""
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def type_of(schema: dict[str, Any]) -> Markup:
    """A schema as a short type, with links to the named schemas it uses."""
    if "$ref" in schema:
        return Markup('<a href="#schema-{0}">{0}</a>').format(_name(schema["$ref"]))
    if "allOf" in schema:
        return type_of(schema["allOf"][0])
    if "anyOf" in schema:
        return Markup(" | ").join(type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return Markup(" | ").join(Markup("<code>{}</code>").format(json.dumps(v)) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return Markup("array of ") + type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return Markup("object of ") + type_of(schema["additionalProperties"])
    return Markup(escape(f"{kind} ({schema['format']})" if "format" in schema else kind))


def rules_of(schema: dict[str, Any]) -> str:
    """A schema's constraints in words."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            schema = {**branch, **{k: v for k, v in schema.items() if k != "anyOf"}}
    found = []
    if "minLength" in schema or "maxLength" in schema:
        found.append(f"{schema.get('minLength', 0)}–{schema.get('maxLength', '…')} characters")
    if "pattern" in schema:
        found.append(f"matches {schema['pattern']}")
    if "minimum" in schema or "maximum" in schema:
        found.append(f"{schema.get('minimum', '…')}–{schema.get('maximum', '…')}")
    if "default" in schema:
        found.append(f"default {json.dumps(schema['default'])}")
    return "; ".join(found)


def _rows(schema: dict[str, Any]) -> list[Row]:
    required = set(schema.get("required", []))
    return [
        Row(name, "", type_of(prop), rules_of(prop), name in required, prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]


def _replies(op: dict[str, Any], responses: dict[str, Any]) -> list[Reply]:
    found = []
    for status, reply in op["responses"].items():
        if "$ref" in reply:
            reply = responses[_name(reply["$ref"])]
        content = reply.get("content", {})
        media = next(iter(content.values()), None)
        kind = type_of(media["schema"]) if media is not None else None
        if content and "application/json" not in content:
            kind = Markup(escape(next(iter(content))))
        found.append(Reply(status, reply["description"], kind))
    return found


def reference(doc: dict[str, Any]) -> dict[str, Any]:
    """What api.html shows: the operations by tag, authentication, errors and the schemas."""
    components = doc["components"]
    sections: dict[str, list[Documented]] = {tag["name"]: [] for tag in doc["tags"]}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody")
            media, content = next(iter(body["content"].items())) if body else ("", {})
            sections[op["tags"][0]].append(
                Documented(
                    anchor=op["operationId"],
                    method=method.upper(),
                    path=path,
                    summary=op["summary"],
                    description=op.get("description", ""),
                    who=who(op),
                    parameters=[
                        Row(
                            p["name"],
                            p["in"],
                            type_of(p["schema"]),
                            rules_of(p["schema"]),
                            p["required"],
                            p.get("description", ""),
                        )
                        for p in op.get("parameters", [])
                    ],
                    body=type_of(content["schema"]) if body else None,
                    body_required=bool(body and body["required"]),
                    example=json.dumps(content["example"], ensure_ascii=False, indent=2)
                    if "example" in content
                    else None,
                    body_type="a form, multipart/form-data" if media == "multipart/form-data" else "JSON",
                    replies=_replies(op, components["responses"]),
                )
            )
    schemas = [(name, schema.get("description", ""), _rows(schema)) for name, schema in components["schemas"].items()]
    errors = [(status, r.name, r.when, r.codes) for status, r in REFUSALS.items()]
    return {
        "info": doc["info"],
        "sections": sections,
        "security": components["securitySchemes"],
        "errors": errors,
        "error_rows": _rows(components["schemas"]["Error"]),
        "schemas": schemas,
    }
