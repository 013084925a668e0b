"""How a node's log lines look: one JSON object per line (TICKER_LOG_FORMAT=json, the default) or logfmt (text).

Every line, ours (``ticker.logs.log_event``) and uvicorn's, asyncio's or any library's alike, carries
``timestamp`` (UTC, ISO 8601), ``level``, ``event`` (a library's lines: ``log``, with ``logger`` and
``message``), ``node`` and, inside an HTTP request, ``request_id`` (asgi_correlation_id's context variable, set
from ``X-Request-ID`` by the middleware in ticker.http.request_id). The event's own fields follow.

JSON is the default because a node in production writes for a log collector: one object per line is read
without a parser per format, and a value with spaces or quotes in it cannot be misread. ``text`` is for a
person at a terminal. Kept apart from ticker.logs, which every module imports: only a node that sets up
logging loads this module and the JSON library.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ticker.logs import logfmt_value

LINE_KEYS = ("timestamp", "level", "event", "node", "request_id", "logger", "message")


def node_name(configured: str = "") -> str:
    """This node in its log lines: the setting, else host and process (workers share a host)."""
    return configured or f"{socket.gethostname()}-{os.getpid()}"


def line(record: logging.LogRecord, node: str) -> dict[str, Any]:
    """A record as the fields of one line, in their order."""
    at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data: dict[str, Any] = {"timestamp": at, "level": record.levelname}
    event = getattr(record, "event", None)
    data["event"] = event or "log"
    data["node"] = node
    request_id = getattr(record, "correlation_id", None)
    if request_id:
        data["request_id"] = request_id
    if event is None:  # a line of uvicorn's or a library's: its logger and text
        data["logger"] = record.name
        data["message"] = record.getMessage()
    for key, value in getattr(record, "fields", {}).items():
        data[f"event_{key}" if key in LINE_KEYS else key] = value  # an event's own "node" keeps the line's
    return data


class JsonLines(JsonFormatter):
    """One JSON object per line (python-json-logger serialises: datetimes, exceptions, odd types)."""

    def __init__(self, node: str = "") -> None:
        super().__init__(json_ensure_ascii=False)
        self.node = node_name(node)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data.update(line(record, self.node))
        log_data.update(message_dict)  # exc_info and stack_info, when a record has them: still one line


class TextLines(logging.Formatter):
    """logfmt for a person: ``2025-05-01T12:00:00.000Z WARNING event=listener_failed node=… error=…``."""

    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node_name(node)

    def format(self, record: logging.LogRecord) -> str:
        data = line(record, self.node)
        head = f"{data.pop('timestamp')} {data.pop('level')}"
        text = " ".join([head, *(f"{k}={logfmt_value(v)}" for k, v in data.items())])
        if record.exc_info:
            text += " exc_info=" + logfmt_value(self.formatException(record.exc_info))
        return text


def logging_config(level: str = "info", form: str = "json", node: str = "") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for a node: every logger's lines on stderr in one format."""
    level = level.upper()
    formatter = "ticker.log_format.JsonLines" if form == "json" else "ticker.log_format.TextLines"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "asgi_correlation_id.CorrelationIdFilter"}},
        "formatters": {"lines": {"()": formatter, "node": node}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "lines",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "ticker": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": level},
            "alembic": {"level": level},  # each migration a node applies at start-up
            # Per-connection lines (open, accepted, closed) are noise at 10,000 readers; see ticker.live.connection.
            "uvicorn.error.connections": {"level": "WARNING"},
            # A client's malformed X-Request-ID is the client's mistake: it must not buy a line per request.
            "asgi_correlation_id": {"level": "ERROR"},
        },
        # Everything else (asyncio's "Task exception was never retrieved", alembic's steps) in the same format.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure(level: str = "info", form: str = "json", node: str = "") -> None:
    """Set up this process's logging (a command that runs before uvicorn does it, such as ``ticker serve``)."""
    import logging.config

    logging.config.dictConfig(logging_config(level, form, node))
