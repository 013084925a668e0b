"""No Python traceback in any node's log: what the autouse fixture in conftest.py checks after every test.

A node logs one structured line per notable event and never a bare traceback (an unexpected exception is a
``*_failed`` line naming where it was raised). Nodes in this process log through ``logging``; nodes run as child
processes (``ServerProcess``) write their log to a file. Both are read at each test's teardown.
"""

from __future__ import annotations

import logging
from pathlib import Path

TRACEBACK = "Traceback (most recent call last)"

node_logs: list[Path] = []  # logs of the ticker nodes started as child processes during the current test


class TracebackCatcher(logging.Handler):
    """Keeps every record that carries an exception's traceback (``logger.exception``, uvicorn's "Exception in
    ASGI application", asyncio's "Task exception was never retrieved") or has one in its text."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.caught: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.stack_info or TRACEBACK in record.getMessage():
            self.caught.append(f"{record.name} {record.levelname}: {self.format(record)}")


def tracebacks_in_node_logs() -> list[str]:
    """Each child node's log that holds a traceback, with the lines around the first one."""
    found = []
    for path in node_logs:
        text = path.read_text(errors="replace") if path.exists() else ""
        at = text.find(TRACEBACK)
        if at >= 0:
            found.append(f"{path}:\n{text[max(0, at - 400) : at + 3000]}")
    return found
