"""signet.verifier.metrics.VerifierCollector: the demo service's /metrics after real traffic (an
issuer and the demo under uvicorn on loopback, tokens from POST /token), and verifiers sharing a
real Redis, scraped in process. No mocks."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from signet.verifier import Verifier
from signet.verifier.metrics import VerifierCollector
from tests.support.metrics import Scrape
from tests.support.processes import start_demo, start_issuer
from tests.support.tokens import add_client, post_token


def call(url: str, token: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_demo_metrics_count_verifications_cache_layers_and_key_age(tmp_path: Path) -> None:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    secret = add_client(env, "svc", "--scope", "read", "--audience", "api://demo") or ""
    issuer, base = start_issuer(env)
    demo = None
    try:
        demo, demo_base = start_demo({"SIGNET_VERIFIER_ISSUER": base, "SIGNET_VERIFIER_AUDIENCE": "api://demo"})
        issued = post_token(base, {"grant_type": "client_credentials"}, auth=("svc", secret))
        token = issued.json()["access_token"]
        before = Scrape.of(demo_base + "/metrics")
        for _ in range(3):
            answer = call(demo_base + "/whoami", token)
            assert answer.status_code == 200, answer.text
        for _ in range(2):
            assert call(demo_base + "/whoami", "a.b.c").status_code == 401
        assert call(demo_base + "/admin", token).status_code == 403
        after = Scrape.of(demo_base + "/metrics")

        def moved(name: str, **labels: str) -> float:
            return after.value(name, **labels) - before.value(name, **labels)

        accepted = "signet_verifier_tokens_accepted_total"
        assert moved(accepted, via="signature") == 1  # the first time only
        assert moved(accepted, via="token_cache") == 3  # two more /whoami and the /admin call
        assert moved("signet_verifier_tokens_refused_total", reason="malformed") == 2
        assert after.label_values("signet_verifier_tokens_refused_total", "reason") == {"malformed"}
        # Timed from the first scrape (the demo gives the collector a function): 4 accepted
        # (the /admin token is valid, its scope is not), 2 refused.
        latency = "signet_verifier_verification_duration_seconds"
        assert moved(latency + "_count", outcome="accepted") == 4
        assert moved(latency + "_count", outcome="refused") == 2
        assert moved(latency + "_bucket", outcome="accepted", le="+Inf") == 4
        assert 0 < moved(latency + "_sum", outcome="accepted") < 30
        # Keys came from the issuer (no Redis configured), once, at warm-up.
        assert after.value("signet_verifier_key_loads_total", layer="issuer") >= 1
        assert after.value("signet_verifier_key_loads_total", layer="redis") == 0
        assert after.value("signet_verifier_jwks_fetches_total") >= 1
        assert after.value("signet_verifier_jwks_fetch_errors_total") == 0
        age = after.value("signet_verifier_jwks_age_seconds", issuer=base)
        assert 0 <= age < math.inf
        assert after.value("signet_verifier_keys", issuer=base) == 1
        assert after.value("signet_verifier_keys_usable", issuer=base) == 1

        issuer.stop()  # the issuer goes away: the next forced refresh fails and is counted
        unknown_kid = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vcGUiLCJ0eXAiOiJhdCtqd3QifQ." + token.split(".", 1)[1]
        assert call(demo_base + "/whoami", unknown_kid).status_code == 401
        gone = Scrape.of(demo_base + "/metrics")
        assert gone.value("signet_verifier_jwks_fetch_errors_total") >= 1
        assert gone.value("signet_verifier_tokens_refused_total", reason="unknown_kid") == 1
        assert gone.value("signet_verifier_keys_usable", issuer=base) == 1  # stale keys still usable
    finally:
        if demo is not None:
            demo.stop()
        issuer.stop()


def collect(verifier: Verifier) -> Scrape:
    registry = CollectorRegistry()
    registry.register(VerifierCollector(verifier))
    return Scrape(generate_latest(registry).decode())


def test_before_any_fetch_keys_are_infinitely_old_and_unusable() -> None:
    verifier = Verifier("https://issuer.example", "api://x")
    try:
        scrape = collect(verifier)
        assert scrape.value("signet_verifier_jwks_age_seconds", issuer="https://issuer.example") == math.inf
        assert scrape.value("signet_verifier_keys_usable", issuer="https://issuer.example") == 0
        assert scrape.value("signet_verifier_tokens_accepted_total") == 0
    finally:
        verifier.close()


async def test_key_loads_are_counted_per_layer_across_instances_sharing_redis(
        tmp_path: Path, redis_url: str) -> None:
    """Two verifiers sharing Redis (the machine's, or one the suite started): the first gets the
    keys from the issuer, the second from Redis, and its scrape says so."""
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    issuer, base = start_issuer(env)
    options = {"redis_url": redis_url, "redis_prefix": f"signet:test-metrics:{uuid.uuid4().hex}:"}
    first, second = Verifier(base, "api://x", **options), Verifier(base, "api://x", **options)
    try:
        await first.start()
        await second.start()
        one, two = collect(first), collect(second)
        assert one.value("signet_verifier_key_loads_total", layer="issuer") == 1
        assert one.value("signet_verifier_key_loads_total", layer="redis") == 0
        assert two.value("signet_verifier_key_loads_total", layer="issuer") == 0
        assert two.value("signet_verifier_key_loads_total", layer="redis") == 1
        for scrape in (one, two):
            assert scrape.value("signet_verifier_keys", issuer=base) == 1
            assert scrape.value("signet_verifier_keys_usable", issuer=base) == 1
            assert 0 <= scrape.value("signet_verifier_jwks_age_seconds", issuer=base) < math.inf
    finally:
        await first.aclose()
        await second.aclose()
        issuer.stop()
