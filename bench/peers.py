"""The Python JWT libraries a user would pick instead of Signet, each set up to check what
Signet checks: the signature, the algorithm (one allowed), `iss`, `aud` and `exp` (30 s leeway).

Each peer is a function `verify(token) -> claims` built once per key (keys parsed outside
the timed loop, as a service would cache them). `prove` runs every peer on a token with a
bad signature, a wrong issuer, a wrong audience and an expired token before anything is
timed: a peer that accepts any of them would be measured doing less work than Signet, so
the bench stops instead.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

Verify = Callable[[str], Any]
LEEWAY = 30


def _pyjwt(jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify:
    import jwt

    key, algorithms = jwt.PyJWK(jwk), [alg]
    options = {"require": ["iss", "aud", "exp"]}

    def verify(token: str) -> Any:
        return jwt.decode(token, key, algorithms=algorithms, audience=audience, issuer=issuer,
                          leeway=LEEWAY, options=options)  # type: ignore[arg-type]
    return verify


def _joserfc(jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify:
    from joserfc import jwt
    from joserfc.jwk import import_key

    key, algorithms = import_key(jwk), [alg]
    registry = jwt.JWTClaimsRegistry(leeway=LEEWAY, iss={"essential": True, "value": issuer},
                                     aud={"essential": True, "value": audience},
                                     exp={"essential": True})

    def verify(token: str) -> Any:
        claims = jwt.decode(token, key, algorithms=algorithms).claims
        registry.validate(claims)
        return claims
    return verify


def _authlib(jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify:
    import authlib.deprecate  # noqa: F401 - its "always" filter first, so ours below wins

    with warnings.catch_warnings():  # authlib.jose points users at joserfc; still widely used
        warnings.simplefilter("ignore")
        from authlib.jose import JsonWebKey, JsonWebToken

    key, decoder = JsonWebKey.import_key(jwk), JsonWebToken([alg])
    options = {"iss": {"essential": True, "value": issuer},
               "aud": {"essential": True, "value": audience}, "exp": {"essential": True}}

    def verify(token: str) -> Any:
        claims = decoder.decode(token, key, claims_options=options)
        claims.validate(leeway=LEEWAY)
        return claims
    return verify


def _jwcrypto(jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify:
    from jwcrypto import jwk as jwcrypto_jwk
    from jwcrypto import jwt

    key, algs = jwcrypto_jwk.JWK(**jwk), [alg]
    checks = {"iss": issuer, "aud": audience, "exp": None}

    def verify(token: str) -> Any:
        checked = jwt.JWT(jwt=token, key=key, algs=algs, check_claims=checks, expected_type="JWS")
        checked.leeway = LEEWAY
        return json.loads(checked.claims)
    return verify


def _python_jose(jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify:
    from jose import jwk as jose_jwk
    from jose import jwt

    key, algorithms = jose_jwk.construct(jwk, alg), [alg]
    options = {"leeway": LEEWAY, "require_iss": True, "require_aud": True, "require_exp": True}

    def verify(token: str) -> Any:
        return jwt.decode(token, key, algorithms=algorithms, audience=audience, issuer=issuer,
                          options=options)
    return verify


PEERS: dict[str, Callable[[dict[str, Any], str, str, str], Verify]] = {
    "PyJWT": _pyjwt, "joserfc": _joserfc, "authlib": _authlib, "jwcrypto": _jwcrypto,
    "python-jose": _python_jose,
}
# Algorithms a peer does not implement (python-jose has neither RSASSA-PSS nor EdDSA).
UNSUPPORTED = {"python-jose": frozenset({"PS256", "PS384", "PS512", "EdDSA", "Ed25519"})}


def build(name: str, jwk: dict[str, Any], alg: str, issuer: str, audience: str) -> Verify | None:
    if alg in UNSUPPORTED.get(name, ()):
        return None
    return PEERS[name](jwk, alg, issuer, audience)


def prove(name: str, verify: Verify, good: str, bad: dict[str, str]) -> None:
    """`good` must verify and every token of `bad` (what is wrong -> token) must be refused."""
    if verify(good) is None:
        raise SystemExit(f"bench: {name} returned nothing for a valid token")
    for what, token in bad.items():
        try:
            verify(token)
        except Exception:  # noqa: S112 - refused, as it must be (each library has its own errors)
            continue
        raise SystemExit(f"bench: {name} accepted a token with {what}: it is not configured"
                         " to check what Signet checks, so its rate would not compare")
