"""The reader's views of an incident page: "Bara viktigaste" (``?visa=viktigast``, key events and the pinned entry)
and "Äldst först" (``?ordning=aldst``, from the first entry on; "Visa fler" then reads newer entries, ``after=``).

Plain links, rendered on the server: they work without JavaScript, each is a page of its own for a cache, and the
canonical URL stays the incident's. reader.js keeps a view live the way it says (docs/reader.md, "Views").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from ticker.errors import Refused

SHOW, KEY = "visa", "viktigast"
ORDER, OLDEST = "ordning", "aldst"
VALUES = {SHOW: ("alla", KEY), ORDER: ("nyast", OLDEST)}  # the first value of each is the default


@dataclass(frozen=True)
class ReaderView:
    key_only: bool = False
    oldest_first: bool = False

    @classmethod
    def parse(cls, query: QueryParams) -> ReaderView:
        """The view a page's query asks for; Invalid names a parameter with a value we do not have."""
        for name, values in VALUES.items():
            value = query.get(name)
            if value is not None and value not in values:
                raise Refused.invalid(name, f"{name} must be one of {', '.join(values)}")
        return cls(key_only=query.get(SHOW) == KEY, oldest_first=query.get(ORDER) == OLDEST)

    @property
    def query(self) -> dict[str, Any]:
        """The view's part of a link's query (nothing for the default view)."""
        return {SHOW: KEY if self.key_only else None, ORDER: OLDEST if self.oldest_first else None}

    @property
    def cursor(self) -> str:
        """The name of the cursor a next page is read with."""
        return "after" if self.oldest_first else "before"

    def with_(self, **changes: bool) -> ReaderView:
        return ReaderView(**{"key_only": self.key_only, "oldest_first": self.oldest_first, **changes})
