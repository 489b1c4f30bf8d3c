"""The issuer's Prometheus metrics, served at `GET /metrics` (see app.routes.metrics).

Labels stay few and bounded, and never carry a secret: a key's `alg` (no `kid`: every
rotation would add series), the OAuth `error` code of a refusal, the client authentication
method, the KMS operation and its error code. No client id (clients are many and their
names are the operator's business), no token, no ARN. Each app has its own registry, so two
apps in one process count apart. No `_created` series: they double every counter's series
for a value that `process_start_time_seconds` already gives.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from signet import __version__

disable_created_metrics()  # process-wide: the issuer owns its process

# KMS Sign is tens of milliseconds in-region; the upper buckets catch retries and backoff.
KMS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# POST /token: about a millisecond signing locally, a KMS round trip otherwise, seconds when
# KMS throttles or the secret hash is computed under load.
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class RingKey:
    """What the key ring gauges need of one key."""

    alg: str
    state: str
    activated_at: float | None


class KeyRingCollector:
    """Key ring gauges computed at scrape time from the ring this replica last loaded."""

    def __init__(self, ring: Callable[[], Iterable[RingKey]], clock: Callable[[], float] = time.time) -> None:
        self._ring = ring
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        keys = GaugeMetricFamily("signet_keys", "Keys in the ring by algorithm and state"
                                 " (pending, active, retiring, retired; a fixed KMS key is active)",
                                 labels=["alg", "state"])
        age = GaugeMetricFamily("signet_active_key_age_seconds",
                                "Seconds since the signing key of each algorithm became active",
                                labels=["alg"])
        counts: dict[tuple[str, str], int] = {}
        now = self._clock()
        for key in self._ring():
            counts[(key.alg, key.state)] = counts.get((key.alg, key.state), 0) + 1
            if key.state == "active" and key.activated_at is not None:
                age.add_metric([key.alg], max(0.0, now - key.activated_at))
        for (alg, state), count in sorted(counts.items()):
            keys.add_metric([alg, state], count)
        yield keys
        yield age


class DelegatedCollector:
    """Delegated signing mode (signet.keys.delegated): root Sign calls saved, and the age of
    the ephemeral key signing now. Nothing is reported in `kms` mode."""

    def __init__(self, backend: Callable[[], object | None]) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        backend: Any = self._backend()
        if getattr(backend, "name", None) != "delegated":
            return
        for name, attribute, meaning in (
                ("signet_delegated_root_signs_saved", "kms_sign_calls_saved",
                 "Tokens signed by an ephemeral key: each one a root (KMS) Sign call saved"),
                ("signet_delegated_attestations", "attestations_signed",
                 "Root (KMS) Sign calls spent attesting ephemeral keys"),
                ("signet_delegated_root_signatures", "root_signatures",
                 "Tokens the root signed itself (no ephemeral key ready: start-up, Redis down)")):
            counter = CounterMetricFamily(name, meaning)
            counter.add_metric([], getattr(backend, attribute))
            yield counter
        age = backend.ephemeral_key_age_seconds
        gauge = GaugeMetricFamily("signet_ephemeral_key_age_seconds",
                                  "Age of the ephemeral key signing now (absent while the root signs)")
        if age is not None:
            gauge.add_metric([], age)
        yield gauge


class IssuerMetrics:
    """Counters the token endpoint and the KMS client report to, and the ring gauges."""

    def __init__(self, ring: Callable[[], Iterable[RingKey]],
                 backend: Callable[[], object | None] = lambda: None) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("signet_build", "The running Signet: version and Python version",
             registry=self.registry).info({"version": __version__, "python": platform.python_version()})
        self.tokens_issued = Counter(
            "signet_tokens_issued", "Access tokens issued, by signing algorithm",
            ["alg"], registry=self.registry)
        self.token_seconds = Histogram(
            "signet_token_request_duration_seconds", "POST /token from the first byte of the form"
            " to the response, by outcome (issued, or the OAuth error code) and client"
            " authentication method (none when the request named none)",
            ["outcome", "auth_method"], buckets=TOKEN_BUCKETS, registry=self.registry)
        self.client_authentications = Counter(
            "signet_client_authentications", "Tokens issued, by the client's authentication"
            " method (client_secret_basic, client_secret_post, private_key_jwt, federated)",
            ["method"], registry=self.registry)
        self.tokens_refused = Counter(
            "signet_token_requests_refused", "Token requests refused, by OAuth error code",
            ["reason"], registry=self.registry)
        self.kms_seconds = Histogram(
            "signet_kms_request_duration_seconds", "KMS calls while serving, retries and queueing"
            " for the concurrency bound included", ["operation"], buckets=KMS_BUCKETS,
            registry=self.registry)
        self.kms_errors = Counter(
            "signet_kms_errors", "Failed KMS calls while serving, by operation and AWS error code",
            ["operation", "code"], registry=self.registry)
        self.registry.register(KeyRingCollector(ring))
        self.registry.register(DelegatedCollector(backend))
        # The labelled children of an issued token's metrics, by (alg, method): `labels()`
        # validates and locks on every call, a few microseconds per token. Children are never
        # removed, so a cached one is the one `labels()` would return.
        self._issued: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    def _issued_children(self, alg: str, auth_method: str) -> tuple[Any, Any, Any]:
        children = self._issued.get((alg, auth_method))
        if children is None:
            children = (self.tokens_issued.labels(alg), self.token_seconds.labels("issued", auth_method),
                        self.client_authentications.labels(auth_method))
            self._issued[(alg, auth_method)] = children
        return children

    def token_issued(self, alg: str, auth_method: str, seconds: float) -> None:
        """A token handed out: counted by alg, timed by method, and its client's
        authentication counted by method (one lookup of the three children)."""
        issued, duration, authenticated = self._issued_children(alg, auth_method)
        issued.inc()
        duration.observe(seconds)
        authenticated.inc()

    def token_refused(self, reason: str, auth_method: str | None, seconds: float) -> None:
        self.tokens_refused.labels(reason).inc()
        self.token_seconds.labels(reason, auth_method or "none").observe(seconds)

    def kms_call(self, operation: str, seconds: float, error_code: str | None) -> None:
        """The KmsClient's observer: one call to `operation` took `seconds`, and failed if coded."""
        self.kms_seconds.labels(operation).observe(seconds)
        if error_code is not None:
            self.kms_errors.labels(operation, error_code).inc()

    def watch_backend(self, backend: object) -> None:
        """Time the KMS calls of a KMS backend (the local backend makes none), or of the
        root key of delegated mode."""
        backend = getattr(backend, "root", backend)
        client = getattr(backend, "client", None)
        if client is not None and hasattr(client, "observer"):
            client.observer = self.kms_call


def ring_keys(state: object) -> list[RingKey]:
    """The ring as `app.state` holds it: the rotator's last snapshot, or a fixed key's set."""
    backend = getattr(state, "keys", None)
    if backend is None:  # not started (or start-up failed)
        return []
    rotator = getattr(state, "rotator", None)
    if rotator is not None:
        return [RingKey(r.alg, r.state.value, r.activated_at) for r in rotator.backend.snapshot.records]
    signing = backend.signing_key().published.kid
    return [RingKey(key.alg.name, "active" if key.kid == signing else "published", None)
            for key in backend.published_keys()]
