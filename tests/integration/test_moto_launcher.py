"""The moto launcher's two corrections are in force, and stock moto still needs them.

If a moto upgrade fixes DIGEST or the PSS salt, the stock-moto test fails: then the
corresponding correction in tests/support/moto_kms.py can go.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

DIGEST = hashlib.sha256(b"header.payload").digest()


def _digest_signature_verifies_as_prehashed(kms, spec: str, algorithm: str) -> bool:  # type: ignore[no-untyped-def]
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    sig = kms.sign(KeyId=key_id, Message=DIGEST, MessageType="DIGEST",
                   SigningAlgorithm=algorithm)["Signature"]
    try:
        if spec.startswith("ECC"):
            public.verify(sig, DIGEST, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        else:
            public.verify(sig, DIGEST, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                          utils.Prehashed(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def test_launcher_signs_digest_as_aws_does(kms) -> None:  # type: ignore[no-untyped-def]
    assert _digest_signature_verifies_as_prehashed(kms, "ECC_NIST_P256", "ECDSA_SHA_256")


def test_launcher_uses_hash_length_pss_salt_on_digest(kms) -> None:  # type: ignore[no-untyped-def]
    assert _digest_signature_verifies_as_prehashed(kms, "RSA_2048", "RSASSA_PSS_SHA_256")


def test_launcher_raw_messages_still_work(kms) -> None:  # type: ignore[no-untyped-def]
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    sig = kms.sign(KeyId=key_id, Message=b"raw", MessageType="RAW",
                   SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    public.verify(sig, b"raw", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert kms.verify(KeyId=key_id, Message=b"raw", MessageType="RAW", Signature=sig,
                      SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]


def test_launcher_refuses_digest_of_wrong_length_like_aws(kms) -> None:  # type: ignore[no-untyped-def]
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    with pytest.raises(kms.exceptions.ClientError, match="ValidationException"):
        kms.sign(KeyId=key_id, Message=b"short", MessageType="DIGEST",
                 SigningAlgorithm="ECDSA_SHA_256")


def test_stock_moto_still_differs_from_aws() -> None:
    from tests.support.processes import moto_kms_client, start_moto

    service, endpoint = start_moto(corrected=False)
    try:
        kms = moto_kms_client(endpoint)
        assert not _digest_signature_verifies_as_prehashed(kms, "ECC_NIST_P256", "ECDSA_SHA_256")
        assert not _digest_signature_verifies_as_prehashed(kms, "RSA_2048", "RSASSA_PSS_SHA_256")
    finally:
        service.stop()
