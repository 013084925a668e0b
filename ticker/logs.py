"""One structured line per notable event: ``log_event(name, level, **fields)`` on the ``ticker`` logger.

This is the one entry point, imported by every module, so it stays light: the record's message is logfmt
(``event=name key=value …``, what a test or a plain handler reads) and the event's name and fields ride along
on the record, from which ticker.log_format writes the line a node prints (JSON by default, or logfmt).

Levels: INFO for what a node does as planned, WARNING for a failure it recovers from by itself (a dependency
away, a retry scheduled, a reader dropped), ERROR for one that needs a person. DEBUG lines (a closed reader's
session, one per reader) cost one cached level check when off.
"""

from __future__ import annotations

import logging
import os
import time
import traceback

logger = logging.getLogger("ticker")


def logfmt_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log_event(name: str, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        message = " ".join([f"event={name}", *(f"{k}={logfmt_value(v)}" for k, v in fields.items())])
        logger.log(level, message, extra={"event": name, "fields": fields})


def session_started() -> float:
    """When a reader's session began if its end will be logged (TICKER_LOG_LEVEL=debug), else 0.0: at 10,000
    readers a line per session is a lot, so off it costs one cached level check per connection and no clock."""
    return time.monotonic() if logger.isEnabledFor(logging.DEBUG) else 0.0


def session_closed(since: float, way: str, code: int | None, partner: str | None) -> None:
    """A reader's session ended: one DEBUG line (how it came in, how long it lasted, its close code)."""
    if since:
        seconds = round(time.monotonic() - since, 3)
        log_event("reader_closed", logging.DEBUG, way=way, seconds=seconds, code=code, partner=partner)


def raised_at(exc: BaseException) -> str:
    """Where an unexpected exception came from, for its log line: the frames from our innermost one down."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [i for i, f in enumerate(frames) if f"{os.sep}ticker{os.sep}" in f.filename]
    below = frames[ours[-1] if ours else 0 :]
    return " > ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in below)
