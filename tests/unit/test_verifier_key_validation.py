"""RFC 8725 sections 3.4 and 3.5 (validate cryptographic inputs; keys of sufficient
strength), as the threat model names them: a published JWK whose EC point is off its curve,
an RSA key under 2048 bits, an RSA key with a tiny exponent, and an EC key on another curve
than its `alg` are skipped, never used to verify."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signet.algorithms import ALGORITHMS
from signet.jose import b64url_decode, b64url_encode
from signet.jwk import public_key_to_jwk
from signet.verifier.keys import parse_jwks


def _uint(value: int, size: int) -> str:
    return b64url_encode(value.to_bytes(size, "big"))


def _ec(curve: ec.EllipticCurve, alg: str) -> dict[str, Any]:
    return public_key_to_jwk(ec.generate_private_key(curve).public_key(), ALGORITHMS[alg])


def _off_curve() -> dict[str, Any]:
    jwk = _ec(ec.SECP256R1(), "ES256")
    y = int.from_bytes(b64url_decode(jwk["y"].encode()), "big")
    return {**jwk, "kid": "off-curve", "y": _uint((y + 1) % (2**256), 32)}


def _small_rsa() -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    return {"kty": "RSA", "kid": "rsa-1024", "alg": "RS256", "use": "sig",
            "n": _uint(numbers.n, 128), "e": _uint(numbers.e, 3)}


def _exponent_one() -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    return {"kty": "RSA", "kid": "e-1", "alg": "RS256", "use": "sig", "n": _uint(numbers.n, 256), "e": "AQ"}


@pytest.mark.parametrize(("name", "build"), [
    ("EC point off its curve", _off_curve),
    ("RSA key of 1024 bits", _small_rsa),
    ("RSA public exponent 1", _exponent_one),
    ("P-384 key claiming ES256", lambda: {**_ec(ec.SECP384R1(), "ES384"), "alg": "ES256", "kid": "p384"}),
])
def test_weak_or_invalid_published_keys_are_skipped(name: str, build: Any) -> None:
    good = _ec(ec.SECP256R1(), "ES256")
    keys, problems = parse_jwks(json.dumps({"keys": [good, build()]}), ALGORITHMS)
    assert list(keys) == [good["kid"]], name
    assert len(problems) == 1, problems
