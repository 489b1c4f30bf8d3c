"""The alg <-> KMS table, and local sign/verify with the padding rules JWS requires."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signet import signatures
from signet.algorithms import (
    ALGORITHMS,
    KeyFamily,
    UnsupportedAlgorithm,
    algorithms_for_key_spec,
    get_algorithm,
)
from signet.keys.local import generate_private_key

EXPECTED = {
    "RS256": ("RSASSA_PKCS1_V1_5_SHA_256", "SHA256"),
    "RS384": ("RSASSA_PKCS1_V1_5_SHA_384", "SHA384"),
    "RS512": ("RSASSA_PKCS1_V1_5_SHA_512", "SHA512"),
    "PS256": ("RSASSA_PSS_SHA_256", "SHA256"),
    "PS384": ("RSASSA_PSS_SHA_384", "SHA384"),
    "PS512": ("RSASSA_PSS_SHA_512", "SHA512"),
    "ES256": ("ECDSA_SHA_256", "SHA256"),
    "ES384": ("ECDSA_SHA_384", "SHA384"),
    "ES512": ("ECDSA_SHA_512", "SHA512"),
    # RFC 8037: no KMS signing algorithm (botocore 1.40.61 knows none for Ed25519)
    "EdDSA": ("", "SHA512"),
    "Ed25519": ("", "SHA512"),
}


def test_table_maps_every_jws_alg_to_kms() -> None:
    assert {n: (a.kms_signing_algorithm, a.hash_name) for n, a in ALGORITHMS.items()} == EXPECTED
    assert [a.name for a in algorithms_for_key_spec("ECC_NIST_P521")] == ["ES512"]
    assert [a.name for a in algorithms_for_key_spec("ECC_NIST_P384")] == ["ES384"]
    assert len(algorithms_for_key_spec("RSA_3072")) == 6
    assert algorithms_for_key_spec("ECC_SECG_P256K1") == []
    assert algorithms_for_key_spec("ECC_NIST_EDWARDS25519") == []
    assert [a.name for a in ALGORITHMS.values() if not a.kms_can_sign] == ["EdDSA", "Ed25519"]


@pytest.mark.parametrize("name", ["none", "None", "NONE", "HS256", "es256", "eddsa", "ED25519",
                                  "Ed448", "ES256K", ""])
def test_only_exact_asymmetric_names_are_supported(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        get_algorithm(name)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_sign_then_verify_and_tamper(name: str, rsa_key: rsa.RSAPrivateKey) -> None:
    alg = ALGORITHMS[name]
    key = rsa_key if alg.family is KeyFamily.RSA else generate_private_key(alg)
    sig = signatures.sign(alg, key, b"header.payload")
    assert signatures.verify(alg, key.public_key(), b"header.payload", sig)
    assert not signatures.verify(alg, key.public_key(), b"header.payload2", sig)
    assert not signatures.verify(alg, key.public_key(), b"header.payload", sig[:-1] + bytes([sig[-1] ^ 1]))


@pytest.mark.parametrize("name", ["PS256", "PS384", "PS512"])
def test_pss_salt_is_the_hash_length(name: str, rsa_key: rsa.RSAPrivateKey) -> None:
    """`cryptography` checks the exact salt length, so this fails for a MAX_LENGTH salt."""
    alg = ALGORITHMS[name]
    sig = signatures.sign(alg, rsa_key, b"data")
    rsa_key.public_key().verify(
        sig, b"data", padding.PSS(padding.MGF1(alg.new_hash()), alg.digest_size), alg.new_hash())


def test_zero_ecdsa_signature_and_wrong_key_type_are_invalid(rsa_key: rsa.RSAPrivateKey) -> None:
    alg = ALGORITHMS["ES256"]
    key = ec.generate_private_key(ec.SECP256R1())
    assert not signatures.verify(alg, key.public_key(), b"x", b"\0" * 64)
    assert not signatures.verify(alg, rsa_key.public_key(), b"x", b"\1" * 64)
    assert not signatures.verify(ALGORITHMS["RS256"], key.public_key(), b"x", b"\1" * 256)


@pytest.mark.parametrize("name", ["EdDSA", "Ed25519"])
def test_ed25519_signatures_of_the_wrong_length_or_key_type_are_invalid(
        name: str, rsa_key: rsa.RSAPrivateKey) -> None:
    alg = ALGORITHMS[name]
    key = ed25519.Ed25519PrivateKey.generate()
    sig = signatures.sign(alg, key, b"x")
    assert len(sig) == alg.signature_size == 64
    assert not signatures.verify(alg, key.public_key(), b"x", sig[:-1])
    assert not signatures.verify(alg, key.public_key(), b"x", sig + b"\0")
    assert not signatures.verify(alg, key.public_key(), b"x", b"")
    # Alg confusion: an Ed25519 signature under an EC or RSA key, and the other way round.
    p256 = ec.generate_private_key(ec.SECP256R1())
    assert not signatures.verify(alg, p256.public_key(), b"x", sig)
    assert not signatures.verify(alg, rsa_key.public_key(), b"x", sig)
    es256 = signatures.sign(ALGORITHMS["ES256"], p256, b"x")
    assert not signatures.verify(ALGORITHMS["ES256"], key.public_key(), b"x", es256)  # type: ignore[arg-type]
