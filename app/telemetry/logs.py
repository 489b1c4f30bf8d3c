"""One log format for everything on the stream: Signet's loggers and uvicorn's.

SIGNET_LOG_FORMAT=json (the default) writes one JSON object per line, for a log pipeline;
`text` writes one readable line per record, for a person at a terminal. uvicorn's own
loggers (`uvicorn`, `uvicorn.error`, `uvicorn.access`) get the same handler, so its start-up
and access lines are in the same format, and an access line carries the `request_id` of
its request: uvicorn writes it while sending the response start, inside the request's
context (app.asgi.request_id).

Callers pass facts as `extra={"fields": {...}}`; secrets and tokens are never passed, and no
request header is logged. uvicorn's access log would print query strings, where a careless
client may put its secret (the token endpoint refuses it, but only after the line is
written): they are replaced by `?<redacted>` before any handler sees them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from ..asgi.request_id import current_request_id

LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")
ACCESS_LOGGER = "uvicorn.access"
# Loggers given Signet's handler (children such as uvicorn.error propagate to `uvicorn`).
LOGGERS = ("signet", "uvicorn", ACCESS_LOGGER)

# json.dumps(line, default=str) without building an encoder per line (one per audit line).
_ENCODER = json.JSONEncoder(default=str)


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """uvicorn's access record args (client, method, path, HTTP version, status) as fields."""
    args = record.args
    if record.name == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        return {"client": client, "method": method, "path": path,
                "http_version": http_version, "status": status}
    return {}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {**_access_fields(record), **getattr(record, "fields", {})}
    request_id = current_request_id.get()
    if request_id is not None:
        fields.setdefault("request_id", request_id)
    return fields


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra={"fields": fields})` without looking up the caller's
    source file and line, which no Signet format prints: the audit line is written for every
    token, and that frame walk was a measurable part of it."""
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, "(unknown file)", 0, message, (), None,
                                        "(unknown function)", {"fields": fields}))


# The last second formatted, as (epoch second, "YYYY-MM-DDTHH:MM:SS"): lines in the same
# second format only their milliseconds. One tuple, replaced whole, so threads never see half.
_second: tuple[int, str] = (-1, "")


def _time(record: logging.LogRecord) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, at under half
    its cost: the same rounding to microseconds (half to even, carrying into the second), then
    the second's text from a one-entry cache."""
    global _second
    fraction, whole = math.modf(record.created)
    second, micros = int(whole), round(fraction * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    cached_second, text = _second
    if cached_second != second:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (second, text)
    return f"{text}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The same keys in the same order as {time, level, logger, message, **_fields(record)},
        # built as one dict: this runs once per audit line, on the token's request path.
        line: dict[str, Any] = {"time": _time(record), "level": record.levelname.lower(),
                                "logger": record.name, "message": record.getMessage()}
        if record.name == ACCESS_LOGGER:
            line.update(_access_fields(record))
        line.update(getattr(record, "fields", ()))
        request_id = current_request_id.get()
        if request_id is not None:
            line.setdefault("request_id", request_id)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...`: the same facts as JSON, for reading."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={_text(value)}" for key, value in _fields(record).items())
        line = f"{_time(record)} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line}  {fields}" if fields else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _text(value: object) -> str:
    text = value if isinstance(value, str) else _ENCODER.encode(value)
    return _ENCODER.encode(text) if not text or any(c in text for c in ' "=\n') else text


class RedactQueryStrings(logging.Filter):
    """Drop the query string from uvicorn's access log lines (args: client, method, path+query,
    HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?<redacted>", *args[3:])
        return True


def formatter(log_format: LogFormat) -> logging.Formatter:
    return TextFormatter() if log_format == "text" else JsonFormatter()


def configure_logging(level: str, log_format: LogFormat = "json") -> None:
    """Idempotent: one stderr handler in `log_format` on Signet's and uvicorn's loggers,
    replacing any uvicorn installed (its text format); query strings kept out of the access
    log. Called by `signet serve` before uvicorn starts, at import of app.main (so under
    `uvicorn app.main:app` every line after the import is in Signet's format) and in the
    lifespan once the settings are validated."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())
    logging.getLogger("signet").setLevel(level.upper())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(log_format))
        logger.addHandler(handler)
        logger.propagate = False


def configure_from_environment() -> None:
    """Before the settings are loaded (at import): the format and level the environment asks
    for, if valid; an invalid value is reported by the settings in the lifespan."""
    level = os.environ.get("SIGNET_LOG_LEVEL", "info").strip().lower()
    log_format = os.environ.get("SIGNET_LOG_FORMAT", "json").strip().lower()
    configure_logging(level if level in ("debug", "info", "warning", "error") else "info",
                      "text" if log_format == "text" else "json")
