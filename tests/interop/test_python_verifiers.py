"""Python verifiers other than Signet's own accept Signet tokens: `joserfc` and `authlib`,
each given the JWKS as fetched over HTTP from the running issuer and told the expected
issuer, audience and typ; each refuses a token with a flipped signature bit."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from joserfc import errors as joserfc_errors
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet

from signet.algorithms import ALGORITHMS
from tests.interop.issuers import CLIENT_ID, IssuedToken, tamper_signature

with warnings.catch_warnings():
    # Authlib 1.9 deprecates authlib.jose in favour of joserfc (removal planned for 2.0), but
    # it is what authlib users verify with today, so it stays tested until then.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose import errors as authlib_errors


def verify_with_joserfc(issued: IssuedToken, token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    decoded = joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[issued.alg])
    assert decoded.header["typ"] == "at+jwt"
    joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issued.issuer},
        aud={"essential": True, "value": issued.audience},
        exp={"essential": True}, sub={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims


def verify_with_authlib(issued: IssuedToken, token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    claims = JsonWebToken([issued.alg]).decode(
        token, JsonWebKey.import_key_set(jwks),
        claims_options={"iss": {"essential": True, "value": issued.issuer},
                        "aud": {"essential": True, "value": issued.audience},
                        "exp": {"essential": True}, "sub": {"essential": True}})
    claims.validate()
    assert claims.header["typ"] == "at+jwt"
    return dict(claims)


@pytest.fixture(scope="module")
def jwks_by_alg(issued: dict[str, IssuedToken]) -> dict[str, dict[str, Any]]:
    return {alg: httpx.get(token.jwks_uri).raise_for_status().json() for alg, token in issued.items()}


# library -> (verify function, the error it raises for a bad signature)
VERIFIERS: dict[str, tuple[Any, type[Exception]]] = {
    "joserfc": (verify_with_joserfc, joserfc_errors.BadSignatureError),
    "authlib": (verify_with_authlib, authlib_errors.BadSignatureError),
}


# authlib.jose 1.9 registers EdDSA but not RFC 9864's fully specified Ed25519 name
# (authlib/jose/rfc8037/jws_eddsa.py); joserfc knows both.
UNKNOWN_TO = {"authlib": {"Ed25519"}}


@pytest.mark.parametrize("alg", list(ALGORITHMS))
@pytest.mark.parametrize("library", list(VERIFIERS))
def test_python_library_verifies_every_algorithm(issued: dict[str, IssuedToken],
                                                 jwks_by_alg: dict[str, dict[str, Any]],
                                                 library: str, alg: str) -> None:
    verify, bad_signature = VERIFIERS[library]
    token, jwks = issued[alg], jwks_by_alg[alg]
    if alg in UNKNOWN_TO.get(library, ()):  # refused by the library itself, before any check
        with pytest.raises(authlib_errors.UnsupportedAlgorithmError):
            verify(token, token.token, jwks)
        return
    assert verify(token, token.token, jwks)["sub"] == CLIENT_ID
    with pytest.raises(bad_signature):
        verify(token, tamper_signature(token.token), jwks)


def test_both_python_libraries_check_the_audience(issued: dict[str, IssuedToken],
                                                  jwks_by_alg: dict[str, dict[str, Any]]) -> None:
    elsewhere = IssuedToken("ES256", issued["ES256"].issuer, issued["ES256"].token,
                            audience="https://elsewhere.test")
    with pytest.raises(joserfc_errors.InvalidClaimError):
        verify_with_joserfc(elsewhere, elsewhere.token, jwks_by_alg["ES256"])
    with pytest.raises(authlib_errors.InvalidClaimError):
        verify_with_authlib(elsewhere, elsewhere.token, jwks_by_alg["ES256"])
