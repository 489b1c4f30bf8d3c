"""The contract every key backend keeps, run against each one as the issuer builds it from
settings (`build_backend`): local PEM keys, a fixed KMS key, the managed KMS ring, and
delegated signing over a KMS root, on moto over HTTP and the real Redis.

Once open: the signing key is among the published keys; each published key is a public JWK
(no private member) whose kid is its RFC 7638 thumbprint; a signature made by the backend
verifies under the published key with an independent JWK parser, and one flipped byte does
not; the backend says it is reachable."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from app.keys.backends import build_backend
from app.settings import load_settings
from signet.jose import b64url_encode
from signet.keys.base import KeyBackend
from tests.independent_jwk import verify_compact
from tests.support.processes import MOTO_CREDENTIALS

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _settings_for(kind: str, tmp: Path, kms: Any, moto_endpoint: str, redis_url: str) -> dict[str, Any]:
    kms_access = {"key_backend": "kms", "kms_endpoint_url": moto_endpoint, "kms_region": "us-east-1"}
    if kind == "local":
        return {"local_key_dir": tmp}
    if kind == "kms fixed key":
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        return {**kms_access, "kms_key_id": key_id}
    if kind == "kms managed ring":
        return {**kms_access, "redis_url": redis_url, "kms_ring": f"contract-{uuid.uuid4().hex[:12]}",
                "redis_prefix": f"signet-test:{uuid.uuid4().hex}:"}
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    return {**kms_access, "kms_key_id": key_id, "signing_mode": "delegated", "redis_url": redis_url,
            "redis_prefix": f"signet-test:{uuid.uuid4().hex}:"}


@pytest.fixture(params=["local", "kms fixed key", "kms managed ring", "delegated over kms"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path, kms: Any, moto_endpoint: str,
                  redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KeyBackend]:
    for name, value in MOTO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(issuer="https://issuer.example",
                             **_settings_for(request.param, tmp_path, kms, moto_endpoint, redis_url))
    built = build_backend(settings)
    await built.open()
    yield built
    await built.aclose()


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 section 3, written here from the RFC rather than taken from signet.jwk."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


async def test_the_signing_key_is_published_as_a_public_jwk_named_by_its_thumbprint(
        backend: KeyBackend) -> None:
    published = backend.published_keys()
    signing = backend.signing_key().published
    assert signing.kid in {key.kid for key in published}
    for key in published:
        assert not PRIVATE_MEMBERS & set(key.jwk), key.jwk
        assert key.jwk["kid"] == _thumbprint(key.jwk) == key.kid
        assert key.jwk["alg"] == key.alg.name and key.jwk["use"] == "sig"


async def test_a_signature_verifies_under_the_published_key_and_a_flipped_byte_does_not(
        backend: KeyBackend) -> None:
    signing = backend.signing_key()
    jwk = signing.published.jwk
    header = b64url_encode(json.dumps({"alg": jwk["alg"], "kid": jwk["kid"], "typ": "at+jwt"}).encode())
    payload = b64url_encode(b'{"sub":"contract"}')
    signature = await signing.sign(f"{header}.{payload}".encode())
    verify_compact(f"{header}.{payload}.{b64url_encode(signature)}", jwk)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(InvalidSignature):
        verify_compact(f"{header}.{payload}.{b64url_encode(tampered)}", jwk)


async def test_the_backend_says_it_can_sign_now(backend: KeyBackend) -> None:
    await backend.check_reachable()  # raises KeyUnavailableError when it cannot
    assert backend.name
