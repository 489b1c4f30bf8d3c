"""GET /keyring.json for an issuer without a key ring (a fixed KMS key, on moto over HTTP):
the one published key, active, with no history or plan to tell, and nothing that names
the KMS key. The ring case (pending/active/retiring) is in tests/interop/test_keyring_page.py."""

from __future__ import annotations

import httpx

from tests.support.processes import start_issuer


def test_a_fixed_kms_key_is_listed_without_its_arn(kms, moto_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    metadata = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    service, base = start_issuer({
        "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": metadata["KeyId"],
        "SIGNET_SIGNING_ALG": "ES256", "SIGNET_KMS_ENDPOINT_URL": moto_endpoint,
        "SIGNET_KMS_REGION": "us-east-1"})
    try:
        response = httpx.get(base + "/keyring.json")
        kid = httpx.get(base + "/.well-known/jwks.json").json()["keys"][0]["kid"]
    finally:
        service.stop()
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    document = response.json()
    assert document["issuer"] == base and document["signing_alg"] == "ES256"
    assert document["rotation"] is None
    (key,) = document["keys"]
    assert key["kid"] == kid and key["alg"] == "ES256" and key["state"] == "active"
    assert {name for name, value in key.items() if value is not None} == {"kid", "alg", "state"}
    assert metadata["KeyId"] not in response.text and "arn:" not in response.text
