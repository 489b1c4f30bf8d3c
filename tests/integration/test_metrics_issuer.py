"""The issuer's /metrics after real traffic: uvicorn on loopback, the local key backend and
the KMS backend on a moto server over HTTP. Counters must move by exactly what was sent."""

from __future__ import annotations

import platform
from pathlib import Path

import httpx

import signet
from tests.support.metrics import Scrape
from tests.support.processes import moto_kms_client, start_fault_proxy, start_issuer, start_moto
from tests.support.tokens import add_client, post_token

CC = {"grant_type": "client_credentials"}


def local_env(tmp_path: Path) -> dict[str, str]:
    return {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
            "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}


def test_local_issuer_counts_tokens_refusals_and_shows_the_ring(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    secret = add_client(env, "svc", "--scope", "read", "--audience", "api://demo") or ""
    issuer, base = start_issuer(env)
    try:
        before = Scrape.of(base + "/metrics")
        kid = httpx.get(base + "/readyz").json()["kid"]
        for _ in range(3):
            assert post_token(base, CC, auth=("svc", secret)).status_code == 200
        for _ in range(2):
            assert post_token(base, CC, auth=("svc", "wrong-secret")).status_code == 401
        assert post_token(base, {"grant_type": "password"}, auth=("svc", secret)).status_code == 400
        after = Scrape.of(base + "/metrics")

        def moved(name: str, **labels: str) -> float:
            return after.value(name, **labels) - before.value(name, **labels)

        assert moved("signet_tokens_issued_total", alg="ES256") == 3
        # No label that grows with rotation, no _created series (one per counter otherwise).
        assert kid not in after.text and "_created" not in after.text
        assert after.label_values("signet_tokens_issued_total", "kid") == set()
        latency = "signet_token_request_duration_seconds_count"
        assert moved(latency, outcome="issued", auth_method="client_secret_basic") == 3
        assert moved(latency, outcome="invalid_client", auth_method="client_secret_basic") == 2
        assert moved(latency, outcome="unsupported_grant_type", auth_method="client_secret_basic") == 1
        assert post_token(base, CC).status_code == 401  # no client authentication at all
        assert Scrape.of(base + "/metrics").value(latency, outcome="invalid_client", auth_method="none") == 1
        build = [s for s in after.samples if s.name == "signet_build_info"]
        assert len(build) == 1 and build[0].value == 1
        assert build[0].labels["version"] == signet.__version__
        assert build[0].labels["python"] == platform.python_version()
        assert moved("signet_token_requests_refused_total", reason="invalid_client") == 2
        assert moved("signet_token_requests_refused_total", reason="unsupported_grant_type") == 1
        assert after.label_values("signet_token_requests_refused_total", "reason") == {
            "invalid_client", "unsupported_grant_type"}
        assert after.value("signet_keys", alg="ES256", state="active") == 1
        assert after.value("signet_active_key_age_seconds", alg="ES256") >= 0
        assert after.value("signet_kms_request_duration_seconds_count") == 0  # no KMS here
        assert after.value("process_cpu_seconds_total") > 0
        assert secret not in after.text and "svc" not in after.text  # no secrets, no client ids
    finally:
        issuer.stop()


def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    env = {**local_env(tmp_path), "SIGNET_METRICS_ENABLED": "false"}
    issuer, base = start_issuer(env)
    try:
        assert httpx.get(base + "/metrics").status_code == 404
    finally:
        issuer.stop()


def test_kms_issuer_times_kms_calls_and_counts_kms_errors_by_code(tmp_path: Path) -> None:
    """KMS faults are injected by tests/support/fault_proxy.py in front of the real moto server
    (fault injection only): throttling on every Sign, then KMS gone altogether."""
    moto, endpoint = start_moto()
    proxy, proxy_url = start_fault_proxy(endpoint)
    issuer = None
    try:
        kms = moto_kms_client(endpoint)
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
        secret = add_client(env, "svc", "--scope", "read", "--audience", "https://api") or ""
        issuer, base = start_issuer({**env, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
                                     "SIGNET_KMS_ENDPOINT_URL": proxy_url, "SIGNET_KMS_REGION": "us-east-1",
                                     "SIGNET_KMS_TIMEOUT_SECONDS": "0.5"})
        signs = "signet_kms_request_duration_seconds_count"
        before = Scrape.of(base + "/metrics")
        for _ in range(4):
            assert post_token(base, CC, auth=("svc", secret)).status_code == 200
        during = Scrape.of(base + "/metrics")
        assert during.value(signs, operation="sign") - before.value(signs, operation="sign") == 4
        assert during.value("signet_kms_request_duration_seconds_bucket", operation="sign", le="+Inf") == \
            during.value(signs, operation="sign")
        assert during.value("signet_kms_request_duration_seconds_sum", operation="sign") > 0
        assert during.value("signet_kms_errors_total") == 0
        assert during.value("signet_keys", alg="ES256", state="active") == 1

        # Throttled on every attempt: botocore retries, the call fails once, with AWS's code.
        throttle = {"fault": "throttle", "operations": ["Sign"]}
        httpx.post(proxy_url + "/__fault__", json=throttle).raise_for_status()
        assert post_token(base, CC, auth=("svc", secret)).status_code == 503
        throttled = Scrape.of(base + "/metrics")
        assert throttled.value(signs, operation="sign") - during.value(signs, operation="sign") == 1
        assert throttled.value("signet_kms_errors_total", operation="sign", code="ThrottlingException") == 1
        assert httpx.get(proxy_url + "/__fault__").json()["faults"]["Sign"] > 1  # retries: one observation

        proxy.stop()  # KMS unreachable
        assert post_token(base, CC, auth=("svc", secret)).status_code == 503
        after = Scrape.of(base + "/metrics")
        assert after.value(signs, operation="sign") - throttled.value(signs, operation="sign") == 1
        assert after.label_values("signet_kms_errors_total", "code") == {
            "ThrottlingException", "EndpointConnectionError"}
        assert after.value("signet_token_requests_refused_total", reason="temporarily_unavailable") == 2
        assert key_id not in after.text  # no key id or ARN in labels
    finally:
        if issuer is not None:
            issuer.stop()
        proxy.stop()
        moto.stop()
