"""Federated client authentication under fleet and fault conditions, over real HTTP.

Two issuer replicas sharing one Redis and one key directory; a flood of bad workload tokens
from one address against the per-address throttle; a federation issuer's JWKS file that
vanishes, turns invalid or is a FIFO while the issuer runs. Loopback federation issuers
(tests/support/workload_issuers.py), uvicorn, the real Redis: no mocks.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import redis
import yaml

from tests.support.processes import Service, start_issuer
from tests.support.tokens import assertion_form, audit_lines, post_token
from tests.support.workload_issuers import WorkloadIssuer, kubernetes_claims

ISSUER = "https://signet.example"  # every replica's issuer URL: the federation audience
FAILED = {"error": "invalid_client", "error_description": "client authentication failed"}


def _payments(kube: str) -> dict[str, Any]:
    return {"scopes": ["payments.read"], "default_scopes": ["payments.read"],
            "audiences": ["api://payments.read"],
            "federated": [{"issuer": kube, "subject_pattern": "system:serviceaccount:payments:*"}]}


def _env(tmp: Path, redis_url: str, issuers: str, clients: Mapping[str, Any],
         **extra: str) -> dict[str, str]:
    """The settings every replica shares: one key directory, clients file, federation file,
    Redis prefix and issuer URL."""
    (tmp / "federation.toml").write_text(issuers)
    path = tmp / "clients.yaml"
    path.write_text(yaml.safe_dump({"clients": dict(clients)}))
    path.chmod(0o600)
    return {"SIGNET_ISSUER": ISSUER, "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
            "SIGNET_CLIENTS_FILE": str(path), "SIGNET_FEDERATION_ISSUERS_FILE": str(tmp / "federation.toml"),
            "SIGNET_REDIS_URL": redis_url, "SIGNET_REDIS_PREFIX": f"test-fedrest-{uuid.uuid4().hex[:8]}:",
            **extra}


@contextmanager
def _issuers(env: dict[str, str], count: int = 1) -> Iterator[list[tuple[Service, str]]]:
    started = [start_issuer(env, wait=False) for _ in range(count)]
    try:
        for service, base in started:
            service.wait_http(base + "/healthz")
        yield started
    finally:
        for service, _ in started:
            service.stop()
        client = redis.Redis.from_url(env["SIGNET_REDIS_URL"])
        for key in client.scan_iter(env["SIGNET_REDIS_PREFIX"] + "*"):
            client.delete(key)


def _pod(issuer: WorkloadIssuer, namespace: str = "payments", name: str = "api") -> str:
    return issuer.sign(kubernetes_claims(issuer.url, ISSUER, namespace, name))


def _post(base: str, token: str, **kwargs: Any) -> httpx.Response:
    return post_token(base, assertion_form(token), **kwargs)


def _kube_entry(issuer: WorkloadIssuer, jwks_file: Path | None = None) -> str:
    line = f'jwks_file = "{jwks_file}"\n' if jwks_file is not None else ""
    return f'[[issuer]]\nissuer = "{issuer.url}"\nprofile = "kubernetes"\n{line}\n'


# -- two replicas -----------------------------------------------------------------------


def test_two_replicas_accept_one_assertion_and_fetch_the_jwks_once(redis_url: str, tmp_path: Path) -> None:
    """Both replicas, asked at the same moment with the same pod token, issue a token; the
    federation issuer's JWKS is fetched once for the pair (the Redis lock and entry), and
    each replica's access token verifies against the other's JWKS (one key directory)."""
    kube = WorkloadIssuer()
    try:
        env = _env(tmp_path, redis_url, _kube_entry(kube), {"payments": _payments(kube.url)})
        with _issuers(env, 2) as [(_, base_a), (_, base_b)]:
            token = _pod(kube)  # reused until the kubelet rewrites it: valid at every replica
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda base: _post(base, token), (base_a, base_b)))
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            assert kube.jwks_requests == 1
            for answer, other in zip(answers, (base_b, base_a), strict=True):
                access = answer.json()["access_token"]
                jwks = httpx.get(other + "/.well-known/jwks.json", timeout=10).json()
                jwk = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(access)["kid"])
                claims = jwt.decode(access, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]],
                                    audience="api://payments.read", issuer=ISSUER)
                assert claims["client_id"] == "payments"
            # More requests, fresh tokens, either replica: still that one fetch.
            assert [_post(base, _pod(kube)).status_code for base in (base_a, base_b, base_b)] == [200] * 3
            assert kube.jwks_requests == 1
    finally:
        kube.stop()


# -- the per-address throttle -----------------------------------------------------------


def test_bad_assertions_are_throttled_per_address_without_locking_out_valid_ones(
        redis_url: str, tmp_path: Path) -> None:
    """Bad signatures and unknown subjects count at the address like wrong secrets: 401 up to
    the limit, then the documented 429. A valid pod token from that same address (behind
    one proxy, say) still gets its token, and another address is not affected."""
    kube, stranger = WorkloadIssuer(), WorkloadIssuer()
    try:
        env = _env(tmp_path, redis_url, _kube_entry(kube), {"payments": _payments(kube.url)},
                   SIGNET_AUTH_FAILURES_PER_ADDRESS="5", SIGNET_AUTH_FAILURE_WINDOW_SECONDS="3600")
        forged = stranger.sign(kubernetes_claims(kube.url, ISSUER, "payments", "api"), {"kid": kube.kid})
        with _issuers(env) as [(service, base)]:
            assert _post(base, _pod(kube)).status_code == 200  # the keys are loaded
            bad = [forged if n % 2 else _pod(kube, "orders", "api") for n in range(12)]
            answers = [_post(base, token) for token in bad]
            assert [r.status_code for r in answers] == [401] * 5 + [429] * 7, [r.text for r in answers]
            assert all(r.json() == FAILED for r in answers[:5])
            throttled = answers[-1]
            assert throttled.json()["error"] == "temporarily_unavailable"
            assert throttled.json()["error_description"].startswith(
                "too many failed client authentications for this client or address; retry in ")
            assert 0 < int(throttled.headers["retry-after"]) <= 3600
            assert throttled.headers["cache-control"] == "no-store"
            refused = audit_lines(service, "token_refused")
            details = [line.get("detail", "") for line in refused]
            assert details[0].startswith("no client declares") and details[1].startswith("bad_signature")
            assert [line["status"] for line in refused] == [401] * 5 + [429] * 7
            assert details[5].startswith("bad_signature")  # the reason, for the operator

            assert _post(base, _pod(kube)).status_code == 200  # not locked out by others' failures
            assert _post(base, forged).status_code == 429  # and its success reset nothing
            elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(transport=elsewhere, timeout=30) as other:
                answer = other.post(base + "/token", data=assertion_form(forged))
            assert answer.status_code == 401 and answer.json() == FAILED
            counters = redis.Redis.from_url(redis_url).keys(env["SIGNET_REDIS_PREFIX"] + "authfail:*")
            assert len(counters) == 2  # the two addresses, shared by every replica
    finally:
        kube.stop()
        stranger.stop()


# -- a JWKS file that goes wrong ------------------------------------------------------------


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"


def test_a_jwks_file_missing_invalid_or_a_fifo_is_503_at_once(redis_url: str, tmp_path: Path) -> None:
    """Keys that cannot be read at all: `503 temporarily_unavailable`, never a 500 or a hang
    (a FIFO without a writer once blocked the event loop in open())."""
    missing, invalid, fifo = WorkloadIssuer(), WorkloadIssuer(), WorkloadIssuer()
    try:
        (tmp_path / "invalid.json").write_text('{"keys": [')
        os.mkfifo(tmp_path / "fifo.json")
        entries = (_kube_entry(missing, tmp_path / "missing.json")
                   + _kube_entry(invalid, tmp_path / "invalid.json")
                   + _kube_entry(fifo, tmp_path / "fifo.json"))
        env = _env(tmp_path, redis_url, entries, {"payments": _payments(missing.url)})
        with _issuers(env) as [(service, base)]:
            for issuer in (missing, invalid, fifo):
                started = time.monotonic()
                _unavailable(httpx.post(base + "/token", data=assertion_form(_pod(issuer)), timeout=10))
                assert time.monotonic() - started < 8
            assert "Traceback" not in service.output()
    finally:
        for issuer in (missing, invalid, fifo):
            issuer.stop()


def test_a_jwks_file_that_vanishes_mid_run(redis_url: str, tmp_path: Path) -> None:
    """Keys already read keep verifying (stale-if-error, as the verifier does for an issuer
    that went down); a kid they do not hold, while the file cannot be read, is a 503 (the
    operator may be publishing it), not a 401 that blames the workload."""
    offline = WorkloadIssuer()
    jwks = tmp_path / "cluster-b.json"
    jwks.write_text(json.dumps(offline.jwks()))
    try:
        env = _env(tmp_path, redis_url, _kube_entry(offline, jwks), {"payments": _payments(offline.url)})
        with _issuers(env) as [(service, base)]:
            assert _post(base, _pod(offline)).status_code == 200
            jwks.unlink()
            assert _post(base, _pod(offline)).status_code == 200  # the cached key
            old_kid_token = _pod(offline)
            offline.rotate()  # the cluster signs with a key the missing file would have held
            _unavailable(_post(base, _pod(offline)))
            jwks.write_text("not a JWKS")  # invalid now (the refetch is cooling down): still 503
            _unavailable(_post(base, _pod(offline)))
            assert _post(base, old_kid_token).status_code == 200
            refused = audit_lines(service, "token_refused")
            assert refused and all(line["status"] == 503 for line in refused)
            assert "Traceback" not in service.output()
    finally:
        offline.stop()
