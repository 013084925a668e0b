"""What text and JSON from outside may hold, in one place: the HTTP API, its forms and URLs, and /live use these.

Control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) are refused everywhere, except tab, line
feed and carriage return in multi-line text (entry bodies, summaries, corrections). PostgreSQL cannot store NUL
at all, so without this rule the same request was stored by SQLite and a 500 on PostgreSQL; the other controls
are refused with it because no text of ours means anything by them. Lone surrogates (which JSON's ``\\ud800``
escapes can make) cannot be encoded as UTF-8 for either database and are refused too.

Names and one-line labels (titles, entry labels, display names, photo credits, token labels, partner names) also
refuse the bidirectional embedding, override and isolate characters U+202A–U+202E and U+2066–U+2069: they make a
name read differently from what it is, and a name is shown beside other text that they would spill into.

An incident's slug (``SLUG``) and a whole number in a URL or form (``whole_number``: an id, a cursor, a seq) have
one rule each here too.

JSON nesting is bounded (``max_json_depth``) before the text is parsed: Python's parser recurses once per level,
and a body nested 20,000 deep fits in 64 KB.
"""

from __future__ import annotations

import json
import re
import unicodedata
from enum import Enum
from itertools import accumulate
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

SLUG_CHARS = "[a-z0-9][a-z0-9-]{0,79}"  # an incident's address: /i/{slug}, the API, /live, forms
SLUG = re.compile(f"^{SLUG_CHARS}$")
MAX_INT = 2**31 - 1  # ids and seqs are SQL INTEGER columns: 32 bits on PostgreSQL, which refuses more (a 500)
WHOLE_NUMBER = f"a whole number from 0 to {MAX_INT}"  # the rule in words, for a refusal's message

SURROGATES = "\ud800-\udfff"
_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{SURROGATES}]")
_MULTILINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{SURROGATES}]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


class Kind(Enum):
    """What a text is, for what it may hold."""

    LINE = "line"  # one line: no control characters at all
    NAME = "name"  # one line that names something: no bidi controls either
    MULTILINE = "multiline"  # tab, line feed and carriage return allowed


def problem(value: str, kind: Kind) -> str | None:
    """Why ``value`` may not be stored as a text of this kind, or None when it may."""
    found = (_MULTILINE if kind is Kind.MULTILINE else _LINE).search(value)
    if found is not None:
        if SURROGATES[0] <= found.group() <= SURROGATES[-1]:
            return "must be valid Unicode text (found a lone surrogate)"
        allowed = " other than tab and line breaks" if kind is Kind.MULTILINE else ""
        return f"must not contain control characters{allowed} (found {_codepoint(found.group())})"
    if kind is Kind.NAME and (bidi := _BIDI.search(value)) is not None:
        return f"must not contain bidirectional control characters (found {_codepoint(bidi.group())})"
    return None


def problem_in(data: Any, path: str = "") -> tuple[str, str] | None:
    """The first string in decoded JSON (object keys too) that even multi-line text may not hold: where it is
    (``origins.0``) and why. A floor under every model, whatever types its fields were given."""
    if isinstance(data, str):
        found = problem(data, Kind.MULTILINE)
        return None if found is None else (path or "body", found)
    items: Any = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and (found := problem(key, Kind.LINE)) is not None:
            return (path or "body", f"a field name {found}")
        if (inner := problem_in(value, where)) is not None:
            return inner
    return None


def whole_number(raw: str) -> int | None:
    """``raw`` as a number from 0 to MAX_INT written in ASCII digits (an id, a cursor, a seq), else None.

    ``str.isdigit()`` alone also passes "²" (which int() then refuses) and "١٢" (which it reads as 12)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_INT)):
        return None
    number = int(raw)
    return number if number <= MAX_INT else None


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _validator(kind: Kind) -> AfterValidator:
    def check(value: str) -> str:
        found = problem(value, kind)
        if found is not None:
            raise PydanticCustomError("text", found)
        return value

    return AfterValidator(check)


# The string types of the API's models: every str field is one of these.
Line = Annotated[str, _validator(Kind.LINE)]
Name = Annotated[str, _validator(Kind.NAME)]
MultiLine = Annotated[str, _validator(Kind.MULTILINE)]


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested more than {max_depth} levels deep")
        self.max_depth = max_depth


# A string literal, or an unterminated one up to the end of the text: either way one left-to-right pass, so a
# hostile run of quotes and backslashes cannot make the scan quadratic.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply the arrays and objects in JSON ``text`` nest (0 for a scalar), without parsing it."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


def load_json(text: str, max_depth: int) -> Any:
    """``json.loads`` for text from outside: ValueError when it is not JSON, TooDeep when it nests deeper than
    ``max_depth``. The depth is checked first, so the parser never recurses further than that."""
    # Fewer opening brackets than the bound (in strings or not) cannot nest deeper: skip the scan.
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise TooDeep(max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # a bound set above what the interpreter's stack allows
        raise TooDeep(max_depth) from None


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
    return slug or "incident"
