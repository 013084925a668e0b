"""One structured line per notable event: ``event=name key=value …`` (logfmt) on the ``ticker`` logger."""

from __future__ import annotations

import logging
import os
import traceback

logger = logging.getLogger("ticker")


def _value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log_event(name: str, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, " ".join([f"event={name}", *(f"{k}={_value(v)}" for k, v in fields.items())]))


def raised_at(exc: BaseException) -> str:
    """Where an unexpected exception came from, for its log line: the frames from our innermost one down."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [i for i, f in enumerate(frames) if f"{os.sep}ticker{os.sep}" in f.filename]
    below = frames[ours[-1] if ours else 0 :]
    return " > ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in below)
