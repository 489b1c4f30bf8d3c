"""Prometheus collector for a Verifier: `registry.register(VerifierCollector(verifier))`.

Imported only by services that want it: `signet.verifier` itself never imports
prometheus_client (install `signet-jwt[metrics]` for this module).
Counters are read from the verifier at scrape time. The one thing registering adds to the
request path is the verification latency histogram: two clock reads and a bucket count per
verification, on this verifier only (an unobserved verifier is not timed at all, see
signet.verifier.timing). Labels are bounded: outcome codes, cache layers, configured issuers.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator

from signet._extras import require

try:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
except ModuleNotFoundError:
    require("signet.verifier.metrics", "metrics", "prometheus_client")
    raise

from signet.verifier import timing
from signet.verifier.lazy import LazyVerifier
from signet.verifier.verifier import Verifier

# A token cache hit is under a microsecond; a signature check tens of microseconds (RSA
# 4096 about a millisecond); a key-cache miss waits for Redis or the issuer.
VERIFY_BUCKETS = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                  1e-2, 0.1, 1.0, 5.0)

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


class LatencyHistogram:
    """Verification durations by outcome: plain bucket counts (no lock, like the verifier's
    counters: a racing thread may lose a count), turned into a histogram at scrape time.
    `observe` is a closure over the counts, cheaper per call than a method."""

    __slots__ = ("_counts", "_sums", "observe")

    def __init__(self) -> None:
        # accepted, refused: one count per bucket, the last one past every bound (+Inf).
        accepted, refused = [0] * (len(VERIFY_BUCKETS) + 1), [0] * (len(VERIFY_BUCKETS) + 1)
        sums = [0.0, 0.0]
        self._counts, self._sums = (accepted, refused), sums

        def observe(ok: bool, seconds: float, bounds: tuple[float, ...] = VERIFY_BUCKETS) -> None:
            if ok:
                accepted[bisect_left(bounds, seconds)] += 1
                sums[0] += seconds
            else:
                refused[bisect_left(bounds, seconds)] += 1
                sums[1] += seconds

        self.observe = observe

    def metric(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "signet_verifier_verification_duration_seconds", "Time to verify a token, by outcome"
            " (accepted or refused), key-cache waits included", labels=["outcome"])
        for series, outcome in enumerate(("accepted", "refused")):
            cumulative, buckets = 0, []
            for bound, count in zip((*VERIFY_BUCKETS, math.inf), self._counts[series], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == math.inf else repr(bound), cumulative))
            family.add_metric([outcome], buckets, sum_value=self._sums[series])
        return family


class VerifierCollector:
    """Verifications by outcome and reason, key cache loads per layer, JWKS fetches and
    failures, and per issuer the age of its keys (seconds since the last JWKS fetch)."""

    def __init__(self, verifier: Verifier | Callable[[], Verifier],
                 clock: Callable[[], float] = time.time) -> None:
        # A function returning the verifier suits apps that build it at start-up, as for
        # SignetAuthMiddleware.
        self._verifier = LazyVerifier(verifier)
        self._clock = clock
        self._latency = LatencyHistogram()
        self._timed = False
        if isinstance(verifier, Verifier):
            self._time(verifier)

    def _time(self, verifier: Verifier) -> None:
        """Time the verifier's verifications from now on: at once when the collector is given
        a verifier, from the first scrape when given a function building one."""
        if not self._timed:
            timing.install(verifier, self._latency.observe)
            self._timed = True

    @property
    def verifier(self) -> Verifier:
        verifier = self._verifier.get()
        self._time(verifier)
        return verifier

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
        yield self._latency.metric()
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
