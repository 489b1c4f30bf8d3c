"""One syntax for durations, read alike by the issuer's and the verifier's settings.

A plain number is seconds; a number with a unit (`90s`, `10m`, `12h`, `30d`); or ISO 8601 with
days, hours, minutes and seconds (`P30D`, `PT1H30M`). Why one module: a ConfigMap value such
as `SIGNET_VERIFIER_LEEWAY=30s` must mean the same to every program that reads it.
"""

from __future__ import annotations

import math
import re

SYNTAX = "seconds, or 30s, 10m, 1h, 7d, PT1H"
# Durations that the issuer and its verifiers both read, with the range both accept: a value one
# of them would refuse must stop the other too, not only the program that reads it second.
SHARED_RANGES: dict[str, tuple[float, float]] = {
    "SIGNET_VERIFIER_LEEWAY": (0.0, 300.0),
    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": (0.1, 7 * 86400.0),
}
_WITH_UNIT = re.compile(r"(-?\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ISO_8601 = re.compile(r"(-?)P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
                       r"(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE)


def duration_seconds(value: object) -> float | None:
    """Seconds, or None when `value` is not a duration in the syntax above (nor a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _WITH_UNIT.fullmatch(text)
    if match:
        return float(match[1]) * _UNIT_SECONDS[match[2] or "s"]
    match = _ISO_8601.fullmatch(text)
    if match and text.upper() not in ("P", "-P", "PT", "-PT") and not text.upper().endswith("T"):
        days, hours, minutes, seconds = (float(part or 0) for part in match.groups()[1:])
        total = days * 86400 + hours * 3600 + minutes * 60 + seconds
        return -total if match[1] else total
    return None


def checked_duration(value: object, low: float, high: float) -> float:
    """Seconds from `low` to `high`, or ValueError with the message both settings loaders print
    after the variable's name."""
    seconds = duration_seconds(value)
    if seconds is None:
        raise ValueError(f"must be a duration ({SYNTAX}), got {value!r}")
    if not low <= seconds <= high:
        raise ValueError(f"must be from {low:g} to {high:g}, got {value!r}")
    return seconds
