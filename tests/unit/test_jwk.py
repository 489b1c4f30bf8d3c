"""JWK export and the RFC 7638 thumbprint that Signet uses as kid."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signet.algorithms import ALGORITHMS
from signet.jose import b64url_decode
from signet.jwk import (
    JWKError,
    jwk_algorithm,
    jwk_to_public_key,
    public_key_members,
    public_key_to_jwk,
    thumbprint,
)
from signet.keys.local import generate_private_key

# RFC 7638 section 3.1: the example RSA key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
    "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS"
    "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksIN"
    "HaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_matches_rfc7638_example() -> None:
    key = rsa.RSAPublicNumbers(65537, int.from_bytes(b64url_decode(RFC7638_N), "big")).public_key()
    assert thumbprint(key) == RFC7638_THUMBPRINT


@pytest.mark.parametrize("alg_name", list(ALGORITHMS))
def test_jwk_round_trips_and_pins_alg(alg_name: str) -> None:
    alg = ALGORITHMS[alg_name]
    private = generate_private_key(alg)
    jwk = public_key_to_jwk(private.public_key(), alg)
    assert jwk["alg"] == alg_name and jwk["use"] == "sig"
    assert jwk["kid"] == thumbprint(private.public_key())
    assert "d" not in jwk
    parsed = jwk_to_public_key(jwk)
    assert public_key_members(parsed) == public_key_members(private.public_key())
    assert jwk_algorithm(jwk, parsed) is alg


def test_ec_coordinates_are_fixed_width() -> None:
    for _ in range(50):
        jwk = public_key_to_jwk(ec.generate_private_key(ec.SECP521R1()).public_key(),
                                ALGORITHMS["ES512"])
        assert len(b64url_decode(jwk["x"])) == 66 and len(b64url_decode(jwk["y"])) == 66


def test_private_members_and_mismatched_alg_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = public_key_to_jwk(key, ALGORITHMS["ES256"])
    with pytest.raises(JWKError, match="private"):
        jwk_to_public_key({**jwk, "d": "AAAA"})
    with pytest.raises(JWKError):
        jwk_algorithm({**jwk, "alg": "ES384"}, key)
    with pytest.raises(JWKError):
        jwk_algorithm({**jwk, "alg": "HS256"}, key)
    with pytest.raises(JWKError):
        jwk_algorithm({**jwk, "alg": "none"}, key)
    with pytest.raises(JWKError):
        public_key_to_jwk(key, ALGORITHMS["RS256"])


def test_small_rsa_keys_do_not_fit_rsa_algorithms() -> None:
    small = rsa.generate_private_key(65537, 1024).public_key()
    with pytest.raises(JWKError):
        public_key_to_jwk(small, ALGORITHMS["RS256"])
