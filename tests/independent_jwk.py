"""A JWK parser written from RFC 7518 with the stdlib and `cryptography` only.

Tests use it instead of signet.jwk, so a bug in Signet's JWK export cannot be
hidden by the same bug in Signet's JWK import.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def _int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def public_key(jwk: dict[str, Any]):  # type: ignore[no-untyped-def]
    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if jwk["kty"] == "OKP":  # RFC 8037 section 2: x is the raw 32-byte public key
        assert jwk["crv"] == "Ed25519"
        return ed25519.Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))
    curve = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}[jwk["crv"]]()
    return ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()


def verify_compact(token: str, jwk: dict[str, Any]) -> None:
    """Raise InvalidSignature unless `token` verifies with `jwk` under the JWK's alg."""
    head, payload, sig_b64 = token.split(".")
    data = f"{head}.{payload}".encode()
    sig = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    alg = jwk["alg"]
    if alg in ("EdDSA", "Ed25519"):  # RFC 8037 section 3.1: over the signing input, no hash
        assert len(sig) == 64, "an Ed25519 signature is 64 bytes"
        public_key(jwk).verify(sig, data)
        return
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()
    key = public_key(jwk)
    if alg.startswith("ES"):
        half = len(sig) // 2
        assert half == {"ES256": 32, "ES384": 48, "ES512": 66}[alg], "R||S has the wrong width"
        der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
        key.verify(der, data, ec.ECDSA(digest))
    elif alg.startswith("PS"):
        key.verify(sig, data, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    else:
        key.verify(sig, data, padding.PKCS1v15(), digest)
