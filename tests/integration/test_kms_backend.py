"""The KMS backend against moto's server over HTTP: DIGEST signing and start-up errors."""

from __future__ import annotations

import aioboto3
import pytest

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.keys.base import KeyConfigurationError
from signet.keys.kms import KmsKeyBackend
from tests.support.processes import free_port


def _backend(key_id: str, alg: str, endpoint: str, session: aioboto3.Session) -> KmsKeyBackend:
    return KmsKeyBackend(key_id, ALGORITHMS[alg], endpoint_url=endpoint, region="us-east-1",
                         timeout_seconds=2, session=session)


async def test_key_found_by_alias_and_arn_signs_digests(kms, moto_endpoint, moto_session) -> None:  # type: ignore[no-untyped-def]
    meta = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P384")["KeyMetadata"]
    kms.create_alias(AliasName="alias/signet-test-es384", TargetKeyId=meta["KeyId"])
    kids = set()
    for key_id in ("alias/signet-test-es384", meta["Arn"], meta["KeyId"]):
        backend = _backend(key_id, "ES384", moto_endpoint, moto_session)
        await backend.open()
        try:
            key = backend.signing_key()
            sig = await key.sign(b"h.p")
            assert len(sig) == 96
            assert signatures.verify(key.published.alg, key.published.public_key, b"h.p", sig)
            await backend.check_reachable()
            kids.add(key.published.kid)
        finally:
            await backend.aclose()
    assert len(kids) == 1, "kid is derived from the public key, whatever name found the key"


@pytest.mark.parametrize(
    ("spec", "usage", "alg", "message"),
    [
        ("ECC_NIST_P256", "SIGN_VERIFY", "ES384", "SIGNET_SIGNING_ALG: ES384 needs a KMS key of spec"),
        ("RSA_2048", "SIGN_VERIFY", "ES256", "SIGNET_SIGNING_ALG: ES256 needs"),
        ("ECC_NIST_P256", "SIGN_VERIFY", "RS256", "SIGNET_SIGNING_ALG: RS256 needs"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "ES256", "SIGNET_KMS_KEY_ID: .* not SIGN_VERIFY"),
    ],
)
async def test_key_that_cannot_sign_the_alg_is_a_one_line_error(  # type: ignore[no-untyped-def]
        kms, moto_endpoint, moto_session, spec, usage, alg, message) -> None:
    key_id = kms.create_key(KeyUsage=usage, KeySpec=spec)["KeyMetadata"]["KeyId"]
    with pytest.raises(KeyConfigurationError, match=message):
        await _backend(key_id, alg, moto_endpoint, moto_session).open()


async def test_disabled_and_missing_keys(kms, moto_endpoint, moto_session) -> None:  # type: ignore[no-untyped-def]
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(KeyConfigurationError, match="SIGNET_KMS_KEY_ID: .* is Disabled"):
        await _backend(key_id, "ES256", moto_endpoint, moto_session).open()
    with pytest.raises(KeyConfigurationError, match="SIGNET_KMS_KEY_ID: KMS key 'alias/nope' not found"):
        await _backend("alias/nope", "ES256", moto_endpoint, moto_session).open()
    with pytest.raises(KeyConfigurationError, match="SIGNET_KMS_KEY_ID: empty"):
        await _backend("", "ES256", moto_endpoint, moto_session).open()


async def test_unreachable_endpoint_names_the_setting(moto_session) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KeyConfigurationError, match="SIGNET_KMS_ENDPOINT_URL: KMS unreachable"):
        await _backend("alias/x", "ES256", dead, moto_session).open()
