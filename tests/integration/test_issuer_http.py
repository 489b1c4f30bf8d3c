"""The issuer's public documents and probes over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from signet.algorithms import ALGORITHMS
from tests.support.processes import (
    MOTO_CREDENTIALS,
    RunningIssuer,
    Service,
    free_port,
    json_error_message,
    moto_kms_client,
    start_issuer,
    start_moto,
)


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> str:
    return make_issuer({"SIGNET_JWKS_MAX_AGE": "123"}).base


def test_jwks_document_field_by_field(issuer: str) -> None:
    response = httpx.get(issuer + "/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=123"
    assert response.headers["access-control-allow-origin"] == "*"
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert set(keys[0]) == {"kty", "kid", "use", "alg", "crv", "x", "y"}
    assert (keys[0]["kty"], keys[0]["use"], keys[0]["alg"], keys[0]["crv"]) == (
        "EC", "sig", "ES256", "P-256")
    assert len(keys[0]["kid"]) == 43  # base64url SHA-256 thumbprint


def test_jwks_etag_answers_304(issuer: str) -> None:
    first = httpx.get(issuer + "/.well-known/jwks.json")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = httpx.get(issuer + "/.well-known/jwks.json", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
    changed = httpx.get(issuer + "/.well-known/jwks.json", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and changed.content == first.content


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_discovery_documents(issuer: str, path: str) -> None:
    response = httpx.get(issuer + path)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    doc = response.json()
    assert doc["issuer"] == issuer
    assert doc["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert doc["token_endpoint"] == issuer + "/token"
    assert doc["grant_types_supported"] == ["client_credentials"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt"}
    # The algorithm in use, and RS256 as OpenID Connect Discovery requires (no ID tokens).
    assert doc["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert doc["access_token_signing_alg_values_supported"] == ["ES256"]
    # Client assertions are checked with the client key's algorithm, any of these:
    assert doc["token_endpoint_auth_signing_alg_values_supported"] == list(ALGORITHMS)
    assert httpx.get(doc["jwks_uri"]).status_code == 200
    etag = response.headers["etag"]
    assert httpx.get(issuer + path, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_head_gives_the_get_headers_without_a_body(issuer: str, path: str) -> None:
    """RFC 9110 section 9.3.2, over real uvicorn; the CORS preflight already allows HEAD."""
    get, head = httpx.get(issuer + path), httpx.head(issuer + path)
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "cache-control", "content-type", "content-length",
                 "access-control-allow-origin"):
        assert head.headers[name] == get.headers[name], name


def test_cors_preflight_for_browsers(issuer: str) -> None:
    response = httpx.options(issuer + "/.well-known/jwks.json", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "If-None-Match" in response.headers["access-control-allow-headers"]


def test_probes(issuer: str) -> None:
    assert httpx.get(issuer + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(issuer + "/readyz").json()
    assert ready["status"] == "ready" and ready["backend"] == "local" and ready["alg"] == "ES256"
    assert "access-control-allow-origin" not in httpx.get(issuer + "/healthz").headers


def test_readyz_follows_kms_reachability(kms, moto_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    """A private moto: stopping it makes the issuer unready without stopping the issuer."""
    moto, endpoint = start_moto()
    client = moto_kms_client(endpoint)
    key_id = client.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    service, base = start_issuer({
        "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
        "SIGNET_KMS_ENDPOINT_URL": endpoint, "SIGNET_KMS_REGION": "us-east-1",
        "SIGNET_KMS_TIMEOUT_SECONDS": "0.5", "SIGNET_READINESS_TIMEOUT_SECONDS": "3"})
    try:
        assert httpx.get(base + "/readyz").status_code == 200
        moto.stop()
        deadline = time.monotonic() + 30
        while (status := httpx.get(base + "/readyz", timeout=10)).status_code == 200:
            assert time.monotonic() < deadline, "issuer stayed ready with KMS gone"
            time.sleep(0.5)
        assert status.status_code == 503
        assert status.json()["status"] == "unready"
        assert httpx.get(base + "/healthz").status_code == 200, "alive even when unready"
    finally:
        service.stop()
        moto.stop()


def _start_failure(env: dict[str, str]) -> str:
    port = free_port()
    service = Service("issuer-bad", [sys.executable, "-m", "uvicorn", "app.main:app",
                                     "--port", str(port)], env)
    try:
        assert service.wait_exit(60) != 0
        return service.output()
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SIGNET_SIGNING_ALG": "HS256"}, "SIGNET_SIGNING_ALG: unsupported algorithm 'HS256'"),
        ({"SIGNET_KEY_BACKEND": "vault"}, "SIGNET_KEY_BACKEND: Input should be 'local' or 'kms'"),
        ({"SIGNET_LOG_FORMAT": "yaml"}, "SIGNET_LOG_FORMAT: must be one of json, text, got 'yaml'"),
        ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_REDIS_URL": ""}, "SIGNET_REDIS_URL: required with"),
        ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_DELETION_WINDOW_DAYS": "3"},
         "SIGNET_KMS_DELETION_WINDOW_DAYS: Input should be greater than or equal to 7"),
        ({"SIGNET_ISSUER": "http://issuer.example"}, "SIGNET_ISSUER: issuer must use https"),
        ({"SIGNET_KEY_BACKEND": "kms",
          "SIGNET_KMS_ISSUER_PRINCIPAL": "arn:aws:sts::123456789012:assumed-role/signet/pod-1"},
         "SIGNET_KMS_ISSUER_PRINCIPAL: 'arn:aws:sts::123456789012:assumed-role/signet/pod-1' is a role"
         " session; give the role's ARN"),
        ({"SIGNET_LOCAL_KEY_DIR": "/proc/signet-keys"}, "SIGNET_LOCAL_KEY_DIR: cannot create"),
        ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": "alias/x",
          "SIGNET_KMS_REGION": "us-east-1", "SIGNET_KMS_TIMEOUT_SECONDS": "0.5",
          "SIGNET_KMS_ENDPOINT_URL": "http://127.0.0.1:9", **MOTO_CREDENTIALS},
         "SIGNET_KMS_ENDPOINT_URL: KMS unreachable"),
        ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": "alias/x",
          "SIGNET_KMS_REGION": "us-east-1", "SIGNET_KMS_ENDPOINT_URL": "http://127.0.0.1:9",
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
         "AWS_ACCESS_KEY_ID: no AWS credentials found"),
    ],
)
def test_bad_configuration_stops_startup_with_one_line(env: dict[str, str], expected: str,
                                                       tmp_path: Path) -> None:
    output = _start_failure({"SIGNET_LOCAL_KEY_DIR": str(tmp_path), **env})
    assert expected in output
    assert "Traceback" not in output
    assert json_error_message(output, expected).startswith("Signet cannot start: ")


def test_cli_reports_configuration_errors_in_one_line(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run([sys.executable, "-m", "app", "check"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "SIGNET_SIGNING_ALG": "none",
                                 "SIGNET_LOCAL_KEY_DIR": str(tmp_path)}, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "FAIL settings: SIGNET_SIGNING_ALG: unsupported algorithm 'none'; choose one of"
        " RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519"]
    ok = subprocess.run([sys.executable, "-m", "app", "check"], capture_output=True, text=True,
                        env={"PATH": "/usr/bin:/bin", "SIGNET_LOCAL_KEY_DIR": str(tmp_path)},
                        check=False, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("ok settings: ")
    assert all(line.startswith("ok ") for line in ok.stdout.splitlines())
