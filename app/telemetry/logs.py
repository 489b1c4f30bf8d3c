"""Structured JSON log lines for the `signet` loggers (uvicorn keeps its own format).

Callers pass facts as `extra={"fields": {...}}`; secrets and tokens are never passed.
A line emitted while serving a request carries its `request_id` (see app.asgi.request_id).
uvicorn's access log would print query strings, where a careless client may put its
secret (the token endpoint refuses it, but only after the line is written): they are
replaced by `?<redacted>` before any handler sees them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from ..asgi.request_id import current_request_id

# json.dumps(line, default=str) without building an encoder per line (one per audit line).
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            line.setdefault("request_id", request_id)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


class RedactQueryStrings(logging.Filter):
    """Drop the query string from uvicorn's access log lines (args: client, method, path+query,
    HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?<redacted>", *args[3:])
        return True


ACCESS_LOGGER = "uvicorn.access"


def configure_logging(level: str) -> None:
    """Idempotent: one stderr handler on the `signet` logger tree; query strings kept out of
    the access log."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())
    logger = logging.getLogger("signet")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_signet", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._signet = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
