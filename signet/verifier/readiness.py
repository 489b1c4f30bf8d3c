"""Readiness of a verifier, for a downstream service's /readyz and its metrics.

Per trusted issuer, one of three states:

- `fresh`: keys loaded and the last refresh worked;
- `stale`: the issuer (or its JWKS) cannot be reached, but the last good keys are still
  within SIGNET_VERIFIER_MAX_STALENESS_SECONDS, so tokens keep verifying (stale-if-error);
- `unavailable`: no usable keys; tokens of this issuer get 503 `keys_unavailable`.

The verifier is ready while no issuer is `unavailable`: an issuer outage alone must not take
every downstream service out of its load balancer, but it is reported (`degraded`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signet.verifier.stats import VerifierStats


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One issuer's keys as the cache holds them (`Verifier.key_status()`)."""

    kids: frozenset[str]
    fetched_at: float  # 0 when never loaded
    fresh_until: float
    usable_until: float  # stale-if-error limit
    refresh_error: str | None = None  # why the last refresh failed; None once one works


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    status: str  # "ready", "degraded" (some issuer stale) or "unready"
    issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stats: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "issuers": dict(self.issuers), "stats": dict(self.stats)}


def issuer_state(status: KeyStatus, now: float) -> str:
    if status.fetched_at == 0 or now > status.usable_until:
        return "unavailable"
    return "stale" if status.refresh_error is not None else "fresh"


def assess(statuses: Mapping[str, KeyStatus], now: float, stats: VerifierStats) -> Readiness:
    issuers: dict[str, dict[str, Any]] = {}
    for issuer, status in statuses.items():
        state = issuer_state(status, now)
        report: dict[str, Any] = {"state": state, "kids": len(status.kids)}
        if status.fetched_at:
            report["age_seconds"] = round(now - status.fetched_at, 1)
            report["usable_for_seconds"] = round(max(0.0, status.usable_until - now), 1)
        if status.refresh_error is not None:
            report["refresh_error"] = status.refresh_error[:200]
        issuers[issuer] = report
    states = {report["state"] for report in issuers.values()}
    status_text = "unready" if "unavailable" in states else "degraded" if "stale" in states else "ready"
    return Readiness(status_text != "unready", status_text, issuers, stats.snapshot())
