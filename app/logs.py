"""Structured JSON log lines for the `signet` loggers (uvicorn keeps its own format).

Callers pass facts as `extra={"fields": {...}}`; secrets and tokens are never passed.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


def configure_logging(level: str) -> None:
    """Idempotent: one stderr handler on the `signet` logger tree."""
    logger = logging.getLogger("signet")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_signet", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._signet = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
