"""POST /token with the KMS key backend: a private moto server over HTTP, then no KMS at all."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import moto_kms_client, start_issuer, start_moto
from tests.support.tokens import add_client, post_token, verify_access_token

CC = {"grant_type": "client_credentials"}


def test_kms_backend_issues_tokens_then_answers_503_when_kms_is_gone(tmp_path: Path) -> None:
    moto, endpoint = start_moto()
    issuer = None
    try:
        kms = moto_kms_client(endpoint)
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
        secret = add_client(env, "svc", "--scope", "read", "--audience", "https://api") or ""
        issuer, base = start_issuer({**env, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
                                     "SIGNET_KMS_ENDPOINT_URL": endpoint, "SIGNET_KMS_REGION": "us-east-1",
                                     "SIGNET_KMS_TIMEOUT_SECONDS": "0.5"})
        for _ in range(3):
            response = post_token(base, CC, auth=("svc", secret))
            assert response.status_code == 200, response.text
            claims = verify_access_token(base, response.json()["access_token"], "https://api")
            assert claims["client_id"] == "svc"
        moto.stop()
        gone = post_token(base, CC, auth=("svc", secret))
        assert gone.status_code == 503
        assert gone.json()["error"] == "temporarily_unavailable"
        assert int(gone.headers["retry-after"]) > 0
        assert gone.headers["cache-control"] == "no-store"
        output = issuer.output()
        assert "signing failed" in output and "Traceback" not in output
    finally:
        if issuer is not None:
            issuer.stop()
        moto.stop()
