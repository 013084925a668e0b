"""ticker.textrules on its own: the depth scan agrees with the parser, and the text rules say what they refuse."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticker.errors import Refused
from ticker.live.protocol import parse
from ticker.textrules import Kind, TooDeep, json_depth, load_json, problem, problem_in

# Strings full of what could fool a scan for brackets: brackets, quotes, backslashes and escapes.
tricky = st.text(alphabet='[]{}"\\/ab\n\u00e5\u202e', max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky, children, max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(values, st.booleans())
def test_the_scan_finds_the_depth_the_parser_sees(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text) == depth(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"[[[["', 0),
        ('["\\"[[", "]"]', 1),
        ('{"a": "\\\\", "b": [[]]}', 3),
        ('["unterminated [[[', 1),  # not JSON: the parser says so; the scan only must not overcount
        ('"\\', 0),
    ],
)
def test_brackets_in_strings_do_not_count(text: str, expected: int) -> None:
    assert json_depth(text) == expected


def test_load_json_refuses_before_parsing_and_never_lets_recursion_escape() -> None:
    with pytest.raises(TooDeep, match="nested more than 3 levels deep"):
        load_json("[[[[1]]]]", 3)
    assert load_json("[[[1]]]", 3) == [[[1]]]
    deep = "[" * (sys.getrecursionlimit() * 2) + "]" * (sys.getrecursionlimit() * 2)
    with pytest.raises(TooDeep):  # a bound set above what the stack allows
        load_json(deep, 10**9)
    with pytest.raises(ValueError, match="Expecting"):
        load_json("[1,", 3)


def test_a_live_message_is_bounded_by_the_depth_it_is_given() -> None:
    message = '{"type": "subscribe", "incident": "storm", "epoch": [[1]]}'
    with pytest.raises(Refused, match="nested more than 2 levels deep"):
        parse(message, max_depth=2)
    with pytest.raises(Refused, match="epoch must be a string"):
        parse(message, max_depth=3)


@pytest.mark.parametrize(
    ("value", "kind", "found"),
    [
        ("a\x00b", Kind.MULTILINE, "control characters other than tab and line breaks (found U+0000)"),
        ("a\tb", Kind.LINE, "control characters (found U+0009)"),
        ("a\nb", Kind.NAME, "control characters (found U+000A)"),
        ("a\x7fb", Kind.LINE, "U+007F"),
        ("a\x9fb", Kind.LINE, "U+009F"),
        ("a\ud800b", Kind.MULTILINE, "lone surrogate"),
        ("a\u202ab", Kind.NAME, "bidirectional control characters (found U+202A)"),
        ("a\u2069b", Kind.NAME, "U+2069"),
    ],
)
def test_what_each_kind_of_text_refuses(value: str, kind: Kind, found: str) -> None:
    said = problem(value, kind)
    assert said is not None and found in said


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("Rad ett\r\n\tRad två", Kind.MULTILINE),
        ("Skylten: \u2067שלום\u2069", Kind.LINE),  # bidi isolates are refused in names only
        ("Åsa Öberg – 23:40 · «citat» ✓ 🚒", Kind.NAME),
        ("", Kind.NAME),
    ],
)
def test_what_each_kind_of_text_allows(value: str, kind: Kind) -> None:
    assert problem(value, kind) is None


def test_every_string_in_a_body_is_checked_whatever_its_field_type() -> None:
    assert problem_in({"title": "Storm", "places": ["Malmö", "Lund\tnorr"], "n": 3, "ok": None}) is None
    assert problem_in({"places": ["Malmö", "Lu\x00nd"]}) == (
        "places.1",
        "must not contain control characters other than tab and line breaks (found U+0000)",
    )
    assert problem_in({"a": {"b\x1bc": 1}}) == ("a", "a field name must not contain control characters (found U+001B)")
    assert problem_in("\x00") == (
        "body",
        "must not contain control characters other than tab and line breaks (found U+0000)",
    )
