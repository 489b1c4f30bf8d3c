"""Delegated signing end to end: moto's KMS server holds the root key, a real Redis, two
issuer replicas under uvicorn. Short key lifetimes make roll-overs happen within seconds.

- tokens from either replica verify in the Signet verifier with the root pinned (fetching
  the *other* replica's JWKS) and in node jose without pins;
- a served key whose attestation is missing, forged, expired, signed by another key or
  naming another issuer is refused by a pinned verifier;
- roll-over under load: zero failed verifications;
- a replica killed mid roll-over: every token it issued verifies until it expires.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.attestation import ATTESTATION_MEMBER, attestation_input
from signet.jose import b64url_decode, compact, der_to_raw_ecdsa
from signet.keys.local import generate_private_key
from signet.verifier import Verifier
from signet.verifier.errors import SignetError, UnknownKey
from tests.support.metrics import Scrape
from tests.support.processes import Service, start_issuer, start_redis
from tests.support.tokens import add_client, post_token

ISSUER = "http://127.0.0.1:9"  # both replicas announce one issuer; nobody listens there
AUDIENCE = "https://api.delegated.test"
CLIENT_ID = "delegated"
LIFETIME = 4.0  # seconds an ephemeral key signs
TOKEN_LIFETIME = 5
JWKS = "/.well-known/jwks.json"
NODE_DIR = Path(__file__).parents[1] / "interop" / "node"


class Replicas:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.env = env
        self.secret = add_client(env, CLIENT_ID, "--scope", "read", "--audience", AUDIENCE) or ""
        self.started: list[tuple[Service, str]] = []

    def start(self) -> str:
        service, base = start_issuer(self.env)
        self.started.append((service, base))
        return base

    def token(self, base: str) -> str:
        response = post_token(base, {"grant_type": "client_credentials"}, auth=(CLIENT_ID, self.secret))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def stop(self) -> None:
        for service, _ in self.started:
            service.stop()


def kid_of(token: str) -> str:
    return str(json.loads(b64url_decode(token.split(".")[0]))["kid"])


def root_thumbprint(base: str) -> str:
    """The root key as an operator would pin it: the JWKS key without an attestation."""
    keys = httpx.get(base + JWKS).json()["keys"]
    (root,) = [k for k in keys if ATTESTATION_MEMBER not in k]
    return str(root["kid"])


def attested_kids(base: str) -> set[str]:
    return {k["kid"] for k in httpx.get(base + JWKS).json()["keys"] if ATTESTATION_MEMBER in k}


def wait_for_ephemeral(replicas: Replicas, base: str, root: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token = replicas.token(base)
        if kid_of(token) != root:
            return token
        time.sleep(0.2)
    raise AssertionError(f"{base} still signs with the root after {timeout}s")


def pinned_verifier(base: str, root: str) -> Verifier:
    return Verifier(ISSUER, AUDIENCE, jwks_url=base + JWKS, root_keys=root, leeway=1,
                    min_cache_seconds=0.2, max_cache_seconds=1, unknown_kid_cooldown_seconds=0.1)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, kms, moto_endpoint, redis_url) -> Iterator[Replicas]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("delegated")
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    env = {"SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), "SIGNET_ISSUER": ISSUER,
           "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
           "SIGNET_KMS_ENDPOINT_URL": moto_endpoint, "SIGNET_KMS_REGION": "us-east-1",
           "SIGNET_SIGNING_MODE": "delegated", "SIGNET_DELEGATED_KEY_LIFETIME": f"{LIFETIME:g}s",
           "SIGNET_REDIS_URL": redis_url, "SIGNET_REDIS_PREFIX": f"signet-e2e-{uuid.uuid4().hex[:8]}:",
           "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "1", "SIGNET_JWKS_MAX_AGE": "0",
           "SIGNET_KEY_RING_RELOAD_SECONDS": "0.5", "SIGNET_VERIFIER_LEEWAY": "1",
           "SIGNET_TOKEN_LIFETIME_SECONDS": str(TOKEN_LIFETIME),
           "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": str(TOKEN_LIFETIME)}
    group = Replicas(tmp, env)
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="module")
def pair(replicas: Replicas) -> tuple[str, str, str]:
    a, b = replicas.start(), replicas.start()
    root = root_thumbprint(a)
    wait_for_ephemeral(replicas, a, root)
    wait_for_ephemeral(replicas, b, root)
    return a, b, root


def run_node_jose(cases: list[dict[str, str]]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "jose").is_dir():
        pytest.fail("node and the npm packages are needed: `make test` runs `npm ci` in tests/interop/node")
    result = subprocess.run([node, "verify.mjs"], cwd=NODE_DIR, input=json.dumps({"cases": cases}),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["jose"]  # type: ignore[no-any-return]


async def test_each_replica_publishes_the_others_key_and_tokens_verify_everywhere(
        replicas: Replicas, pair: tuple[str, str, str]) -> None:
    a, b, root = pair
    # An ephemeral key's token from each (a loaded machine can leave a short root-signed gap
    # at a roll-over, by design: the metrics test below counts those).
    token_a, token_b = wait_for_ephemeral(replicas, a, root), wait_for_ephemeral(replicas, b, root)
    kid_a, kid_b = kid_of(token_a), kid_of(token_b)
    assert root not in (kid_a, kid_b) and kid_a != kid_b  # each replica has its own key
    assert {kid_a, kid_b} <= attested_kids(a) and {kid_a, kid_b} <= attested_kids(b)
    # The Signet verifier, root pinned, each token against the other replica's JWKS.
    for token, other in ((token_a, b), (token_b, a)):
        verifier = pinned_verifier(other, root)
        try:
            assert (await verifier.verify(token))["client_id"] == CLIENT_ID
        finally:
            await verifier.aclose()
    # node jose, no pins, the same way.
    cases = [{"label": label, "alg": "ES256", "token": token, "issuer": ISSUER, "audience": AUDIENCE,
              "jwks_uri": other + JWKS} for label, token, other in (("a", token_a, b), ("b", token_b, a))]
    outcome = run_node_jose(cases)
    assert outcome["a"]["ok"] and outcome["b"]["ok"], outcome


def test_metrics_count_the_root_signs_saved(replicas: Replicas, pair: tuple[str, str, str]) -> None:
    """/metrics shows each token an ephemeral key signed as a KMS Sign saved, the attestations
    paid for in KMS Sign calls (timed like any KMS call), and the signing key's age."""
    a, _, root = pair
    wait_for_ephemeral(replicas, a, root)
    before = Scrape.of(a + "/metrics")
    tokens = [replicas.token(a) for _ in range(5)]
    after = Scrape.of(a + "/metrics")
    # Usually all five come from an ephemeral key. On a loaded machine one can fall in the gap
    # of a late roll-over (LIFETIME is seconds here), where the root signs, as documented:
    # the counters must then say exactly that.
    by_root = sum(kid_of(t) == root for t in tokens)
    assert by_root < 5, "every token was signed by the root: no ephemeral key was signing"
    saved = "signet_delegated_root_signs_saved_total"
    assert after.value(saved) - before.value(saved) == 5 - by_root
    assert after.value("signet_delegated_root_signatures_total") - before.value(
        "signet_delegated_root_signatures_total") == by_root
    attestations = after.value("signet_delegated_attestations_total")
    assert attestations >= 1
    assert after.value("signet_kms_request_duration_seconds_count", operation="sign") >= attestations
    assert 0 <= after.value("signet_ephemeral_key_age_seconds") < 600


def _with_attestation(document: dict[str, Any], kid: str, change: Any) -> str:
    keys = []
    for jwk in document["keys"]:
        if jwk["kid"] == kid:
            jwk = change(dict(jwk))
        keys.append(jwk)
    return json.dumps({"keys": keys})


async def test_a_pinned_verifier_refuses_served_keys_with_bad_attestations(
        replicas: Replicas, pair: tuple[str, str, str], kms) -> None:  # type: ignore[no-untyped-def]
    """The real JWKS and a real token; only the attestation differs (as a compromised JWKS
    endpoint, proxy or Redis could serve it)."""
    a, _, root = pair
    token = replicas.token(a)
    kid = kid_of(token)
    document = httpx.get(a + JWKS).json()
    original = next(k for k in document["keys"] if k["kid"] == kid)[ATTESTATION_MEMBER]
    header, payload, signature = original.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    def strip(jwk: dict[str, Any]) -> dict[str, Any]:
        jwk.pop(ATTESTATION_MEMBER)
        return jwk

    claims = json.loads(b64url_decode(payload))
    other_key = generate_private_key(ALGORITHMS["ES256"])
    by_other_key = attestation_input(ISSUER, claims["jwk"], "ES256", root, claims["nbf"], claims["exp"],
                                     claims["iat"])
    by_other_key_jws = compact(by_other_key, signatures.sign(ALGORITHMS["ES256"], other_key, by_other_key))
    # The genuine root (in KMS) attesting the genuine key, but for another issuer.
    other_issuer = attestation_input("https://evil.example", claims["jwk"], "ES256", root, claims["nbf"],
                                     claims["exp"], claims["iat"])
    der = kms.sign(KeyId=replicas.env["SIGNET_KMS_KEY_ID"], Message=hashlib.sha256(other_issuer).digest(),
                   MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    other_issuer_jws = compact(other_issuer, der_to_raw_ecdsa(der, 32))
    variants = {
        "missing": strip,
        "forged": lambda jwk: {**jwk, ATTESTATION_MEMBER: f"{header}.{payload}.{flipped}"},
        "signed by another key": lambda jwk: {**jwk, ATTESTATION_MEMBER: by_other_key_jws},
        "naming another issuer": lambda jwk: {**jwk, ATTESTATION_MEMBER: other_issuer_jws},
    }
    # The genuine document is accepted by the same kind of verifier (so the refusals are real).
    verifier = pinned_verifier(a, root)
    verifier.load_jwks(ISSUER, json.dumps(document))
    try:
        assert (await verifier.verify(token))["client_id"] == CLIENT_ID
    finally:
        await verifier.aclose()
    for change in variants.values():
        verifier = pinned_verifier(a, root)
        verifier.load_jwks(ISSUER, _with_attestation(document, kid, change))
        try:
            verifier._cache._fetcher.fetch_jwks = _refuse_fetch  # type: ignore[method-assign]
            with pytest.raises(UnknownKey):
                await verifier.verify(token)
        finally:
            await verifier.aclose()
    # Expired: the same genuine attestation, seen by a verifier whose clock is past its exp.
    exp = json.loads(b64url_decode(payload))["exp"]
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=a + JWKS, root_keys=root, leeway=0,
                        unknown_kid_cooldown_seconds=3600, clock=lambda: exp + 1.0)
    verifier.load_jwks(ISSUER, json.dumps(document))
    try:
        with pytest.raises(SignetError):
            await verifier.verify(token)
        assert kid not in verifier.known_kids(ISSUER) and root in verifier.known_kids(ISSUER)
    finally:
        await verifier.aclose()


async def _refuse_fetch(*_: Any, **__: Any) -> Any:
    """Fault injection: the JWKS endpoint is unreachable, so only the loaded document counts."""
    from signet.verifier.fetch import FetchError

    raise FetchError("test: no refetch")


def _hammer(replicas: Replicas, bases: list[str], stop: threading.Event,
            issued: list[tuple[str, str]]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            for base in bases:
                response = client.post(base + "/token", data={"grant_type": "client_credentials"},
                                       auth=(CLIENT_ID, replicas.secret))
                assert response.status_code == 200, response.text
                issued.append((base, response.json()["access_token"]))


async def test_rollover_under_load_has_zero_failed_verifications(
        replicas: Replicas, pair: tuple[str, str, str]) -> None:
    a, b, root = pair
    issued: list[tuple[str, str]] = []
    stop = threading.Event()
    workers = [threading.Thread(target=_hammer, args=(replicas, [a, b], stop, issued)) for _ in range(2)]
    verifiers = {a: pinned_verifier(b, root), b: pinned_verifier(a, root)}  # the other's JWKS
    failures: list[str] = []
    checked = 0

    async def verify_next() -> None:
        nonlocal checked
        base, token = issued[checked]
        checked += 1
        try:
            await verifiers[base].verify(token)
        except SignetError as exc:
            failures.append(f"{kid_of(token)[:8]}: {exc.code} {exc}")

    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 2.5 * LIFETIME
        while time.monotonic() < deadline:
            if checked < len(issued):
                await verify_next()
            else:
                time.sleep(0.01)
        stop.set()
        for worker in workers:
            worker.join(30)
        while checked < len(issued):  # the last tokens, issued while the workers stopped
            await verify_next()
    finally:
        stop.set()
        for verifier in verifiers.values():
            await verifier.aclose()
    kids = {kid_of(token) for _, token in issued} - {root}
    assert failures == [] and checked == len(issued) > 50
    assert len(kids) >= 4, "each replica should have rolled over at least once"


async def test_a_replica_killed_mid_rollover_leaves_its_tokens_verifiable(replicas: Replicas) -> None:
    a, b = replicas.start(), replicas.start()
    root = root_thumbprint(a)
    first = kid_of(wait_for_ephemeral(replicas, a, root))
    # Wait for a's roll-over, then kill it while its next successor is pending.
    deadline = time.monotonic() + 4 * LIFETIME
    while kid_of(replicas.token(a)) == first and time.monotonic() < deadline:
        time.sleep(0.05)
    switched = time.monotonic()
    current = kid_of(replicas.token(a))
    assert current != first
    time.sleep(LIFETIME - 1.0)  # the successor is attested a publish lead (1.5 s) before the end
    tokens = [replicas.token(a) for _ in range(5)]
    pending = attested_kids(a) - {first, current}
    service = next(s for s, base in replicas.started if base == a)
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(10)
    assert time.monotonic() - switched < LIFETIME
    assert pending, "a pending successor existed when the replica died"
    issued_at = time.monotonic()
    assert {kid_of(t) for t in tokens} <= attested_kids(b)
    # Until the tokens expire, a verifier that has never seen a's JWKS accepts them from b's.
    checks = 0
    while time.monotonic() < issued_at + TOKEN_LIFETIME - 1.5:
        verifier = pinned_verifier(b, root)
        try:
            for token in tokens:
                await verifier.verify(token)
            checks += 1
        finally:
            await verifier.aclose()
        time.sleep(0.5)
    assert checks >= 3


async def test_redis_lost_the_replica_keeps_its_key_then_signs_through_kms(
        replicas: Replicas) -> None:
    """Our own redis-server, stopped under a running replica: no token request fails, the
    current key signs until its time ends, then the root (KMS) signs, and every token
    verifies in a pinned verifier."""
    redis, redis_url = start_redis()
    try:
        service, base = start_issuer({**replicas.env, "SIGNET_REDIS_URL": redis_url})
        replicas.started.append((service, base))
        root = root_thumbprint(base)
        ephemeral = kid_of(wait_for_ephemeral(replicas, base, root))
    finally:
        redis.stop()
    tokens: list[str] = []
    verifier = pinned_verifier(base, root)
    try:
        deadline = time.monotonic() + LIFETIME + 3.0
        while time.monotonic() < deadline:
            tokens.append(replicas.token(base))  # asserts 200 every time
            await verifier.verify(tokens[-1])
            time.sleep(0.05)
    finally:
        await verifier.aclose()
    kids = [kid_of(t) for t in tokens]
    assert kids[0] == ephemeral and kids[-1] == root
    assert set(kids) == {ephemeral, root}, "no key that Redis never saw may sign"
    assert httpx.get(base + "/readyz").status_code == 200
