"""Verification latency: timed only once a collector observes the verifier (an unobserved
verifier runs the class's methods untouched), then every verify and verify_sync is counted
by outcome in the collector's histogram."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from signet.keys.local import LocalSigningKey
from signet.verifier import Verifier
from signet.verifier.metrics import VERIFY_BUCKETS, VerifierCollector
from tests.support.clock import Clock
from tests.support.metrics import Scrape
from tests.support.verifier_tokens import AUDIENCE, access_claims, open_key, sign_claims

ISSUER = "https://issuer.timing.test"
NOW = 1_800_000_000.0
LATENCY = "signet_verifier_verification_duration_seconds"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> LocalSigningKey:
    return asyncio.run(open_key(tmp_path_factory.mktemp("keys")))


def _verifier(key: LocalSigningKey) -> Verifier:
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=ISSUER + "/jwks", clock=Clock(NOW))
    verifier.load_jwks(ISSUER, json.dumps({"keys": [key.published.jwk]}))
    return verifier


def _token(key: LocalSigningKey) -> str:
    return sign_claims(key, access_claims(ISSUER, iat=int(NOW), nbf=int(NOW), exp=int(NOW) + 300))


def test_an_unobserved_verifier_is_not_timed(key: LocalSigningKey) -> None:
    verifier = _verifier(key)
    try:
        assert "verify" not in vars(verifier) and "verify_sync" not in vars(verifier)
        assert verifier.verify_sync.__func__ is Verifier.verify_sync  # type: ignore[attr-defined]
    finally:
        verifier.close()


def test_each_verification_is_counted_by_outcome(key: LocalSigningKey) -> None:
    verifier = _verifier(key)
    registry = CollectorRegistry()
    registry.register(VerifierCollector(verifier))
    registry.register(VerifierCollector(verifier))  # a second collector sees them too
    try:
        token = _token(key)
        for _ in range(3):
            verifier.verify_sync(token)
        asyncio.run(verifier.verify(token))
        for bad in ("a.b.c", token[:-4] + "AAAA"):
            with pytest.raises(Exception):  # noqa: B017 (refusals: any SignetError)
                verifier.verify_sync(bad)
        # The timed twins count outcomes as the untimed methods do, once each.
        assert verifier.outcomes.accepted == 4 and sum(verifier.outcomes.refused.values()) == 2
        assert verifier.outcomes.token_cache_hits == 3
        scrape = Scrape(generate_latest(registry).decode())
        assert scrape.value(LATENCY + "_count", outcome="accepted") == 2 * 4
        assert scrape.value(LATENCY + "_count", outcome="refused") == 2 * 2
        assert scrape.value(LATENCY + "_bucket", outcome="accepted", le="+Inf") == 2 * 4
        bounds = sorted(float(b) for b in scrape.label_values(LATENCY + "_bucket", "le"))
        assert bounds == sorted((*VERIFY_BUCKETS, float("inf")))
        cumulative = [scrape.value(LATENCY + "_bucket", outcome="accepted", le=repr(bound))
                      for bound in VERIFY_BUCKETS]
        assert cumulative == sorted(cumulative)  # buckets are cumulative
        assert scrape.value(LATENCY + "_sum", outcome="accepted") > 0
        assert "_created" not in scrape.text
    finally:
        verifier.close()
