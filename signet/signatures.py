"""JWS signatures with `cryptography`: verify any Signet algorithm, sign with a local private key.

The same padding rules apply everywhere: PSS salt = hash length (RFC 7518 section 3.5),
ECDSA in fixed-width R||S form.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signet.algorithms import Algorithm, Padding
from signet.jose import EncodingError, der_to_raw_ecdsa, raw_to_der_ecdsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def _rsa_padding(alg: Algorithm) -> padding.AsymmetricPadding:
    if alg.padding is Padding.PSS:
        return padding.PSS(mgf=padding.MGF1(alg.new_hash()), salt_length=alg.digest_size)
    return padding.PKCS1v15()


def sign(alg: Algorithm, private_key: PrivateKey, data: bytes) -> bytes:
    """Sign `data` and return the signature in JWS form."""
    if alg.padding is Padding.ECDSA:
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        der = private_key.sign(data, ec.ECDSA(alg.new_hash()))
        return der_to_raw_ecdsa(der, alg.coordinate_size)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key.sign(data, _rsa_padding(alg), alg.new_hash())


def verify(alg: Algorithm, public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True only for a valid JWS-form signature; malformed signatures are simply invalid."""
    try:
        if alg.padding is Padding.ECDSA:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                return False
            der = raw_to_der_ecdsa(signature, alg.coordinate_size)
            public_key.verify(der, data, ec.ECDSA(alg.new_hash()))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            public_key.verify(signature, data, _rsa_padding(alg), alg.new_hash())
    except (InvalidSignature, EncodingError, ValueError):
        return False
    return True
