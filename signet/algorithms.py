"""The one table that maps JWS algorithms to KMS algorithms, key specs and hashes.

Every other module asks this table; nothing else spells "ECDSA_SHA_256".

EdDSA (RFC 8037) is here twice: `EdDSA`, the polymorphic name (Signet accepts it with
`crv: Ed25519` only), and `Ed25519`, the fully specified name of RFC 9864. Both have no KMS
signing algorithm: the AWS SDK Signet pins (botocore 1.40.61) knows no Ed25519 key spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


class KeyFamily(StrEnum):
    RSA = "RSA"
    EC = "EC"
    OKP = "OKP"  # RFC 8037 octet key pairs: Ed25519 only


class Padding(StrEnum):
    PKCS1V15 = "PKCS1v15"
    PSS = "PSS"
    ECDSA = "ECDSA"
    EDDSA = "EdDSA"  # pure Ed25519: the whole message, no pre-hash


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One JWS algorithm and everything KMS and `cryptography` need to know about it."""

    name: str
    kms_signing_algorithm: str  # "" when KMS (as the pinned SDK knows it) cannot sign it
    kms_key_specs: tuple[str, ...]
    hash_name: str
    family: KeyFamily
    padding: Padding
    curve_name: str | None = None  # JWK "crv"
    coordinate_size: int = 0  # bytes per ECDSA coordinate in the raw R||S form

    def new_hash(self) -> hashes.HashAlgorithm:
        """The JWS hash; for EdDSA, SHA-512 inside Ed25519 (never applied by Signet itself)."""
        return _HASHES[self.hash_name]()

    @property
    def digest_size(self) -> int:
        return self.new_hash().digest_size

    def new_curve(self) -> ec.EllipticCurve:
        assert self.family is KeyFamily.EC and self.curve_name, f"{self.name} is not ECDSA"
        return _CURVES[self.curve_name]()

    @property
    def signature_size(self) -> int | None:
        """Fixed size of an ECDSA or Ed25519 signature in JWS form; None for RSA (depends on
        the key)."""
        if self.family is KeyFamily.OKP:
            return ED25519_SIGNATURE_SIZE
        return 2 * self.coordinate_size if self.family is KeyFamily.EC else None

    @property
    def kms_can_sign(self) -> bool:
        return bool(self.kms_signing_algorithm)


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}
_RSA_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
ED25519_SIGNATURE_SIZE = 64  # RFC 8032 section 5.1.6: R || S, 32 bytes each


def _rsa(name: str, kms: str, hash_name: str, pad: Padding) -> Algorithm:
    return Algorithm(name, kms, _RSA_SPECS, hash_name, KeyFamily.RSA, pad)


def _eddsa(name: str) -> Algorithm:
    # KMS offers ECC_NIST_EDWARDS25519 with ED25519_SHA_512, but not in the SDK Signet pins.
    return Algorithm(name, "", (), "SHA512", KeyFamily.OKP, Padding.EDDSA, "Ed25519")


def _ec(name: str, kms: str, spec: str, hash_name: str, crv: str, size: int) -> Algorithm:
    return Algorithm(name, kms, (spec,), hash_name, KeyFamily.EC, Padding.ECDSA, crv, size)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        _rsa("RS256", "RSASSA_PKCS1_V1_5_SHA_256", "SHA256", Padding.PKCS1V15),
        _rsa("RS384", "RSASSA_PKCS1_V1_5_SHA_384", "SHA384", Padding.PKCS1V15),
        _rsa("RS512", "RSASSA_PKCS1_V1_5_SHA_512", "SHA512", Padding.PKCS1V15),
        _rsa("PS256", "RSASSA_PSS_SHA_256", "SHA256", Padding.PSS),
        _rsa("PS384", "RSASSA_PSS_SHA_384", "SHA384", Padding.PSS),
        _rsa("PS512", "RSASSA_PSS_SHA_512", "SHA512", Padding.PSS),
        # P-521, not P-512; ES512 hashes with SHA-512 and pads coordinates to 66 bytes.
        _ec("ES256", "ECDSA_SHA_256", "ECC_NIST_P256", "SHA256", "P-256", 32),
        _ec("ES384", "ECDSA_SHA_384", "ECC_NIST_P384", "SHA384", "P-384", 48),
        _ec("ES512", "ECDSA_SHA_512", "ECC_NIST_P521", "SHA512", "P-521", 66),
        _eddsa("EdDSA"),  # RFC 8037; Signet binds it to crv Ed25519 only (not Ed448)
        _eddsa("Ed25519"),  # RFC 9864, the fully specified name
    )
}

DEFAULT_ALGORITHM = "ES256"
MIN_RSA_KEY_BITS = 2048  # RFC 7518 section 3.3 / 3.5


class UnsupportedAlgorithm(ValueError):
    """The name is not a JWS algorithm Signet signs or verifies with."""


def get_algorithm(name: str) -> Algorithm:
    """Exact, case-sensitive lookup: "none", "HS256" and "es256" are all refused."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnsupportedAlgorithm(
            f"unsupported algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}"
        ) from None


def algorithm_fits_key(alg: Algorithm, public_key: object) -> bool:
    """True when `public_key` is a key this algorithm may be used with (RFC 8725 section 3.1)."""
    if alg.family is KeyFamily.RSA:
        return isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= MIN_RSA_KEY_BITS
    if alg.family is KeyFamily.OKP:
        return isinstance(public_key, ed25519.Ed25519PublicKey)
    return isinstance(public_key, ec.EllipticCurvePublicKey) and (
        public_key.curve.name == alg.new_curve().name
    )


def algorithms_for_key_spec(key_spec: str) -> list[Algorithm]:
    return [a for a in ALGORITHMS.values() if key_spec in a.kms_key_specs]
