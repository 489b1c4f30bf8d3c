"""Every algorithm, both backends: 300+ signatures, each verified by PyJWT and by raw
`cryptography` against the JWKS that uvicorn serves over loopback HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from app.token.assertions import register_ed25519_with_pyjwt
from signet.algorithms import ALGORITHMS
from signet.keys.kms import KmsKeyBackend
from signet.keys.local import LocalKeyBackend
from signet.signer import JwsSigner
from tests import independent_jwk
from tests.support.processes import Service, start_issuer

TOKENS_PER_ALG = 300
KMS_ALGORITHMS = [name for name, alg in ALGORITHMS.items() if alg.kms_can_sign]  # not EdDSA
register_ed25519_with_pyjwt()  # as the issuer does: PyJWT 2.15 knows EdDSA, not Ed25519
KMS_SPEC = {"ES256": "ECC_NIST_P256", "ES384": "ECC_NIST_P384", "ES512": "ECC_NIST_P521"}


@pytest.fixture(scope="module")
def local_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def local_issuer(local_key_dir: Path) -> Iterator[str]:
    """One issuer publishing a local key for each of the eleven algorithms."""
    import asyncio

    async def make_keys() -> None:
        for name in ALGORITHMS:
            await LocalKeyBackend(local_key_dir, ALGORITHMS[name]).open()

    asyncio.run(make_keys())
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(local_key_dir)})
    yield base
    service.stop()


@pytest.fixture(scope="module")
def kms_issuers(kms, moto_endpoint: str) -> Iterator[dict[str, tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """One issuer per algorithm on its own KMS key (started together to save time)."""
    started: dict[str, tuple[Service, str, str]] = {}
    for name in KMS_ALGORITHMS:
        spec = KMS_SPEC.get(name, "RSA_2048")
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
        service, base = start_issuer({
            "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id, "SIGNET_SIGNING_ALG": name,
            "SIGNET_KMS_ENDPOINT_URL": moto_endpoint, "SIGNET_KMS_REGION": "us-east-1",
        }, wait=False)
        started[name] = (service, base, key_id)
    for service, base, _ in started.values():
        service.wait_http(base + "/healthz", timeout=60)
    yield {name: (base, key_id) for name, (_, base, key_id) in started.items()}
    for service, _, _ in started.values():
        service.stop()


def _claims(issuer: str, i: int) -> dict[str, object]:
    now = int(time.time())
    return {"iss": issuer, "sub": f"client-{i}", "aud": "api://test", "iat": now,
            "nbf": now, "exp": now + 300, "jti": f"jti-{i}", "scope": "read"}


def _verify_all(tokens: list[str], issuer: str, alg: str) -> None:
    jwks = httpx.get(issuer + "/.well-known/jwks.json").json()
    by_kid = {k["kid"]: k for k in jwks["keys"]}
    for i, token in enumerate(tokens):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == alg and header["typ"] == "at+jwt"
        jwk = by_kid[header["kid"]]
        assert jwk["alg"] == alg
        claims = jwt.decode(token, independent_jwk.public_key(jwk), algorithms=[alg], audience="api://test",
                            issuer=issuer)
        assert claims["jti"] == f"jti-{i}"
        independent_jwk.verify_compact(token, jwk)


@pytest.mark.parametrize("alg", list(ALGORITHMS))
async def test_local_backend_round_trip(alg: str, local_issuer: str, local_key_dir: Path) -> None:
    backend = LocalKeyBackend(local_key_dir, ALGORITHMS[alg])
    await backend.open()
    signer = JwsSigner(backend)
    tokens = [await signer.sign(_claims(local_issuer, i)) for i in range(TOKENS_PER_ALG)]
    _verify_all(tokens, local_issuer, alg)


@pytest.mark.parametrize("alg", KMS_ALGORITHMS)
async def test_kms_backend_round_trip(alg: str, kms_issuers, moto_endpoint, moto_session) -> None:  # type: ignore[no-untyped-def]
    issuer, key_id = kms_issuers[alg]
    backend = KmsKeyBackend(key_id, ALGORITHMS[alg], endpoint_url=moto_endpoint,
                            region="us-east-1", session=moto_session)
    await backend.open()
    try:
        import asyncio

        signer = JwsSigner(backend)
        tokens = await asyncio.gather(*(signer.sign(_claims(issuer, i))
                                        for i in range(TOKENS_PER_ALG)))
    finally:
        await backend.aclose()
    _verify_all(list(tokens), issuer, alg)
    served = httpx.get(issuer + "/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in served] == [backend.signing_key().published.kid]
    assert json.dumps(served)  # the document is plain JSON
