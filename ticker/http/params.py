"""Whole numbers in URLs (ids, cursors, seqs): one rule for every route that reads one."""

from __future__ import annotations

MAX_INT = 2**31 - 1  # ids and seqs are SQL INTEGER columns: 32 bits on PostgreSQL, which refuses more (a 500)


def whole_number(raw: str) -> int | None:
    """``raw`` as a number from 0 to MAX_INT written in ASCII digits, else None.

    ``str.isdigit()`` alone also passes "²" (which int() then refuses) and "١٢" (which it reads as 12)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_INT)):
        return None
    number = int(raw)
    return number if number <= MAX_INT else None
