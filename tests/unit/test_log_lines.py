"""The JSON log line, built in one dict on the token's path, holds exactly what the reference
construction `{time, level, logger, message, **fields}` holds, in the same order: access
fields, a caller's fields overriding them, the request id added unless a field names one.
And the audit line written without a caller lookup is the same record a logger.info would
have produced, through the same handlers."""

from __future__ import annotations

import io
import json
import logging
import random
from datetime import UTC, datetime
from pathlib import Path

from app.asgi.request_id import current_request_id
from app.telemetry.logs import ACCESS_LOGGER, JsonFormatter, _fields, _time, log_fields


def _reference(record: logging.LogRecord) -> str:
    line = {"time": _time(record), "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(), **_fields(record)}
    return json.dumps(line, default=str)


def _record(name: str, msg: str, args: tuple[object, ...],
            fields: dict[str, object] | None) -> logging.LogRecord:
    extra = {"fields": fields} if fields is not None else None
    return logging.getLogger(name).makeRecord(name, logging.INFO, "f.py", 1, msg, args, None, extra=extra)


def test_json_line_matches_the_reference_construction() -> None:
    records = [
        _record("signet.audit", "token issued", (), {"event": "token_issued", "exp": 5, "scopes": ["a"],
                                                      "path": Path("/a b")}),
        _record("signet.audit", "token issued", (), {"request_id": "from-fields", "level": "x"}),
        _record(ACCESS_LOGGER, '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/p", "1.1", 200), None),
        _record(ACCESS_LOGGER, '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/p", "1.1", 200),
                {"path": "/override"}),
        _record("signet", "plain", (), None),
    ]
    formatter = JsonFormatter()
    for request_id in (None, "req-1"):
        token = current_request_id.set(request_id)
        try:
            for record in records:
                assert formatter.format(record) == _reference(record)
        finally:
            current_request_id.reset(token)


def test_log_fields_writes_what_logger_info_writes() -> None:
    logger = logging.getLogger("signet.test-log-fields")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_fields(logger, logging.INFO, "token issued", {"event": "e", "n": 1})
        logger.info("token issued", extra={"fields": {"event": "e", "n": 1}})
        log_fields(logger, logging.DEBUG, "not written", {"event": "debug"})
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first.pop("time") and second.pop("time")
    assert first == second == {"level": "info", "logger": "signet.test-log-fields",
                               "message": "token issued", "event": "e", "n": 1}


def test_time_is_what_datetime_isoformat_gives() -> None:
    """Edges included: a fraction that rounds up into the next second, exact milliseconds,
    the epoch, and consecutive lines in one second and across seconds (the cache)."""
    record = logging.getLogger("signet").makeRecord("signet", logging.INFO, "f.py", 1, "m", (), None)
    rng = random.Random(7)
    moments = [0.0, 1.9999995, 1.9999996, 1e9 + 0.0005, 1e9 + 0.9995, 1733350000.9999999,
               1733350000.5, 1733350000.25, 1733350001.0]
    moments += [rng.uniform(0, 4e9) for _ in range(20000)]
    moments += [1733350000 + i / 997 for i in range(3000)]
    for moment in moments:
        record.created = moment
        assert _time(record) == datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
