"""One structured line per notable event: ``event=name key=value …`` (logfmt) on the ``ticker`` logger."""

from __future__ import annotations

import logging

logger = logging.getLogger("ticker")


def _value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log_event(name: str, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, " ".join([f"event={name}", *(f"{k}={_value(v)}" for k, v in fields.items())]))
