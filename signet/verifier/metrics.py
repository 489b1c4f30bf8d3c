"""Prometheus collector for a Verifier: `registry.register(VerifierCollector(verifier))`.

Imported only by services that want it: `signet.verifier` itself never imports
prometheus_client (install `signet-jwt[metrics]` for this module).
Values are read from the verifier's counters at scrape time, so registering costs the
request path nothing. Labels are bounded: outcome codes, cache layers, configured issuers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

from signet._extras import require

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
except ModuleNotFoundError:
    require("signet.verifier.metrics", "metrics", "prometheus_client")
    raise

from signet.verifier.lazy import LazyVerifier
from signet.verifier.verifier import Verifier

# VerifierStats field -> (metric name, help); each becomes a counter named signet_verifier_<name>_total.
_STATS = {
    "jwks_fetches": ("jwks_fetches", "JWKS requests answered by the issuer (200 or 304)"),
    "jwks_not_modified": ("jwks_not_modified", "JWKS requests answered 304 Not Modified"),
    "jwks_fetch_errors": ("jwks_fetch_errors", "JWKS fetches that failed (unreachable, bad answer)"),
    "discovery_fetches": ("discovery_fetches", "OpenID discovery documents fetched"),
    "redis_errors": ("redis_errors", "Redis failures the verifier carried on without"),
    "integrity_failures": ("redis_integrity_failures", "Redis entries whose HMAC did not verify"),
    "redis_entries_refused": ("redis_entries_refused",
                              "Redis entries refused: older than the keys in use, or reviving a removed key"),
    "lock_waits": ("fetch_lock_waits", "Waits for another instance's JWKS fetch"),
    "pubsub_reloads": ("pubsub_reloads", "Key sets reloaded after another instance announced a change"),
    "issuer_announcements": ("issuer_announcements", "Refetches after the issuer announced a key change"),
    "unknown_kid_refetches": ("unknown_kid_refetches", "Refetches caused by an unknown kid"),
    "unknown_kid_cooldown": ("unknown_kid_cooldown", "Unknown kids refused without a fetch (cooldown)"),
    "stale_if_error": ("stale_if_error", "Failed refreshes while the previous keys stayed in use"),
    "keys_unavailable": ("keys_unavailable", "Failed loads that left an issuer without usable keys"),
    "keys_removed": ("keys_removed", "Keys dropped because the issuer stopped publishing them"),
}


class VerifierCollector:
    """Verifications by outcome and reason, key cache loads per layer, JWKS fetches and
    failures, and per issuer the age of its keys (seconds since the last JWKS fetch)."""

    def __init__(self, verifier: Verifier | Callable[[], Verifier],
                 clock: Callable[[], float] = time.time) -> None:
        # A function returning the verifier suits apps that build it at start-up, as for
        # SignetAuthMiddleware.
        self._verifier = LazyVerifier(verifier)
        self._clock = clock

    @property
    def verifier(self) -> Verifier:
        return self._verifier.get()

    def collect(self) -> Iterator[Metric]:
        verifier = self.verifier
        outcomes = verifier.outcomes
        stats = verifier.stats
        accepted = CounterMetricFamily(
            "signet_verifier_tokens_accepted", "Tokens accepted, by where the answer came from"
            " (token_cache: verified before, no signature check; signature: verified now)",
            labels=["via"])
        accepted.add_metric(["token_cache"], outcomes.token_cache_hits)
        accepted.add_metric(["signature"], outcomes.signatures_verified)
        yield accepted
        refused = CounterMetricFamily("signet_verifier_tokens_refused",
                                      "Tokens refused, by error code", labels=["reason"])
        for code, count in sorted(dict(outcomes.refused).items()):
            refused.add_metric([code], count)
        yield refused
        loads = CounterMetricFamily(
            "signet_verifier_key_loads", "Key sets loaded into memory, by the layer that had them"
            " (redis: shared cache; issuer: fetched over HTTP, 200 or 304)", labels=["layer"])
        loads.add_metric(["redis"], stats.redis_loads)
        loads.add_metric(["issuer"], stats.jwks_fetches)
        yield loads
        for field, (name, help_text) in _STATS.items():
            yield CounterMetricFamily(f"signet_verifier_{name}", help_text, value=getattr(stats, field))
        yield from self._issuer_gauges()

    def _issuer_gauges(self) -> Iterator[Metric]:
        now = self._clock()
        age = GaugeMetricFamily(
            "signet_verifier_jwks_age_seconds", "Seconds since the issuer's keys were last fetched"
            " (by any instance sharing the Redis cache); +Inf before the first fetch", labels=["issuer"])
        keys = GaugeMetricFamily("signet_verifier_keys", "Keys held in memory per issuer",
                                 labels=["issuer"])
        usable = GaugeMetricFamily("signet_verifier_keys_usable",
                                   "1 while the issuer's keys are usable (fresh or within max"
                                   " staleness), else 0: tokens get 503", labels=["issuer"])
        for issuer in self.verifier.issuers:
            status = self.verifier.key_status(issuer)
            age.add_metric([issuer], now - status.fetched_at if status.fetched_at else math.inf)
            keys.add_metric([issuer], len(status.kids))
            usable.add_metric([issuer], 1.0 if status.kids and now <= status.usable_until else 0.0)
        yield age
        yield keys
        yield usable
