"""JWS signatures with `cryptography`: verify any Signet algorithm, sign with a local private key.

The same padding rules apply everywhere: PSS salt = hash length (RFC 7518 section 3.5),
ECDSA in fixed-width R||S form, Ed25519 as RFC 8037 section 3.1 has it (the 64-byte
signature of the signing input itself, no pre-hash).
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signet.algorithms import Algorithm, Padding
from signet.jose import EncodingError, der_to_raw_ecdsa, raw_to_der_ecdsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def _rsa_padding(alg: Algorithm) -> padding.AsymmetricPadding:
    if alg.padding is Padding.PSS:
        return padding.PSS(mgf=padding.MGF1(alg.new_hash()), salt_length=alg.digest_size)
    return padding.PKCS1v15()


def sign(alg: Algorithm, private_key: PrivateKey, data: bytes) -> bytes:
    """Sign `data` and return the signature in JWS form."""
    if alg.padding is Padding.EDDSA:
        assert isinstance(private_key, ed25519.Ed25519PrivateKey)
        return private_key.sign(data)
    if alg.padding is Padding.ECDSA:
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        der = private_key.sign(data, ec.ECDSA(alg.new_hash()))
        return der_to_raw_ecdsa(der, alg.coordinate_size)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key.sign(data, _rsa_padding(alg), alg.new_hash())


SignatureCheck = Callable[[bytes, bytes], bool]


def verifier_for(alg: Algorithm, public_key: PublicKey) -> SignatureCheck:
    """A `check(data, signature) -> bool` for one key, with padding and hash objects built once.

    The verifier calls this once per key, not per token: building the padding and hash
    objects costs about as much as the rest of its per-token work.
    """
    if alg.padding is Padding.EDDSA:
        return _eddsa_check(public_key)
    hash_algorithm = alg.new_hash()
    if alg.padding is Padding.ECDSA:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return _never
        ecdsa, size, verify_der = ec.ECDSA(hash_algorithm), alg.coordinate_size, public_key.verify

        def check_ecdsa(data: bytes, signature: bytes) -> bool:
            try:
                verify_der(raw_to_der_ecdsa(signature, size), data, ecdsa)
            except (InvalidSignature, EncodingError, ValueError):
                return False
            return True

        return check_ecdsa
    if not isinstance(public_key, rsa.RSAPublicKey):
        return _never
    rsa_padding, verify_rsa = _rsa_padding(alg), public_key.verify

    def check_rsa(data: bytes, signature: bytes) -> bool:
        try:
            verify_rsa(signature, data, rsa_padding, hash_algorithm)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check_rsa


def _eddsa_check(public_key: PublicKey) -> SignatureCheck:
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        return _never
    verify_eddsa = public_key.verify

    def check_eddsa(data: bytes, signature: bytes) -> bool:
        if len(signature) != 64:  # RFC 8032: R || S; OpenSSL would refuse it too, later
            return False
        try:
            verify_eddsa(signature, data)
        except InvalidSignature:
            return False
        return True

    return check_eddsa


def _never(data: bytes, signature: bytes) -> bool:
    return False


def verify(alg: Algorithm, public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True only for a valid JWS-form signature; malformed signatures are simply invalid."""
    return verifier_for(alg, public_key)(data, signature)
