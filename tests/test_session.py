"""The sans-I/O session: message parsing, contiguity, and merging catch-up with held live frames."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ticker.errors import CloseCode, Refused
from ticker.live.protocol import Join, Subscribe, Unsubscribe, contiguous, parse
from ticker.live.session import error_reply


def test_parse_accepts_the_documented_messages() -> None:
    assert parse('{"type":"subscribe","incident":"brand-1","since":4,"epoch":"x"}') == Subscribe("brand-1", 4, "x")
    assert parse('{"type":"subscribe","incident":"brand-1"}') == Subscribe("brand-1", None, None)
    assert parse('{"type":"unsubscribe","incident":"brand-1"}') == Unsubscribe("brand-1")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (None, None),
        ("{", None),
        ('"x"', None),
        ('{"type":"subscribe","incident":"a","since":true}', "since"),
        ('{"type":"subscribe","incident":"a","since":1.5}', "since"),
        ('{"type":"subscribe","incident":"a","epoch":5}', "epoch"),
        ('{"type":"unsubscribe","incident":"a","since":1}', "since"),
        ('{"type":"subscribe","incident":"-a"}', "incident"),
    ],
)
def test_parse_refuses_naming_the_field(text: str | None, field: str | None) -> None:
    with pytest.raises(Refused) as caught:
        parse(text)
    assert caught.value.field == field
    reply = error_reply(caught.value)
    assert reply is not None and reply["type"] == "error"


def test_contiguous_needs_every_seq() -> None:
    items = [(n, b"") for n in (3, 4, 5, 6)]
    assert [s for s, _ in contiguous(items, 2, 5) or []] == [3, 4, 5]
    assert contiguous(items, 1, 5) is None  # 2 is missing
    assert contiguous(items, 4, 7) is None  # 7 is missing
    assert contiguous(items, 5, 5) == []
    assert contiguous([(3, b""), (5, b"")], 2, 5) is None


def test_join_sends_held_frames_after_history_without_twins() -> None:
    join = Join(after=2, buffer=[])
    assert join.buffer is not None
    join.buffer.extend([(5, b"e5"), (6, b"e6"), (7, b"e7")])
    assert join.finish(sent_upto=5) == [(6, b"e6"), (7, b"e7")]
    assert join.after == 7
    assert join.buffer is None


def test_join_ahead_of_the_stream_sends_nothing_held() -> None:
    join = Join(after=9, buffer=[(8, b"e8")])
    assert join.finish(sent_upto=9) == []
    assert join.after == 9


def test_close_code_table_in_the_protocol_doc_matches_the_code() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d{4}) \|", doc, flags=re.MULTILINE)}
    assert {int(c) for c in CloseCode} <= documented
    for code in CloseCode:
        line = next(row for row in doc.splitlines() if row.startswith(f"| {int(code)} |"))
        assert ("not reconnect" in line) != _reconnects(code), line


def _reconnects(code: CloseCode) -> bool:
    """The rule CloseCode's docstring states: the server's transient codes and 4000–4099 ask for a reconnect."""
    return code in {CloseCode.SERVER_ERROR, CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER} or (
        4000 <= code < 4100
    )
