"""Public keys as JWKs (RFC 7517/7518) and their RFC 7638 thumbprints, which Signet uses as kid.

A thumbprint kid is derived from the key itself: deterministic across replicas and
restarts, and it reveals no account, ARN or file name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signet.algorithms import Algorithm, KeyFamily, algorithm_fits_key, get_algorithm
from signet.jose import b64url_decode, b64url_encode

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
ED25519_KEY_SIZE = 32  # RFC 8037 section 2: x is the 32-byte public key

_CURVE_BY_CRV: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_CRV_BY_CURVE_NAME = {curve.name: crv for crv, curve in _CURVE_BY_CRV.items()}
_COORDINATE_SIZE = {"P-256": 32, "P-384": 48, "P-521": 66}


class JWKError(ValueError):
    """A JWK that is malformed, of an unsupported type, or does not fit its algorithm."""


def _uint_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def public_key_members(public_key: PublicKey) -> dict[str, str]:
    """The required public members only, the input of the RFC 7638 thumbprint."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"e": _uint_b64(numbers.e), "kty": "RSA", "n": _uint_b64(numbers.n)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = _CRV_BY_CURVE_NAME.get(public_key.curve.name)
        if crv is None:
            raise JWKError(f"unsupported curve {public_key.curve.name}")
        size = _COORDINATE_SIZE[crv]
        point = public_key.public_numbers()
        return {"crv": crv, "kty": "EC", "x": _uint_b64(point.x, size), "y": _uint_b64(point.y, size)}
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}  # RFC 8037 section 2
    raise JWKError(f"unsupported public key type {type(public_key).__name__}")


def thumbprint(public_key: PublicKey) -> str:
    """RFC 7638: SHA-256 over the required members, lexicographic order, no whitespace."""
    canonical = json.dumps(public_key_members(public_key), separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_key_to_jwk(public_key: PublicKey, alg: Algorithm) -> dict[str, Any]:
    """The JWK Signet publishes: public members plus kid, use and alg (pins the algorithm)."""
    if not algorithm_fits_key(alg, public_key):
        raise JWKError(f"key does not fit {alg.name}")
    members = public_key_members(public_key)
    return {"kty": members["kty"], "kid": thumbprint(public_key), "use": "sig", "alg": alg.name,
            **{k: v for k, v in members.items() if k != "kty"}}


def _b64_uint(jwk: dict[str, Any], member: str) -> int:
    value = jwk.get(member)
    if not isinstance(value, str) or not value:
        raise JWKError(f"JWK member {member!r} missing or not a string")
    try:
        return int.from_bytes(b64url_decode(value), "big")
    except ValueError as exc:
        raise JWKError(f"JWK member {member!r} is not base64url") from exc


def jwk_to_public_key(jwk: dict[str, Any]) -> PublicKey:
    """Parse a public JWK; private members are refused, so a leaked private JWK is not used."""
    if not isinstance(jwk, dict):
        raise JWKError("JWK is not a JSON object")
    if any(m in jwk for m in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise JWKError("JWK contains private key material")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            return rsa.RSAPublicNumbers(_b64_uint(jwk, "e"), _b64_uint(jwk, "n")).public_key()
        if kty == "EC":
            curve = _CURVE_BY_CRV.get(jwk.get("crv"))  # type: ignore[arg-type]
            if curve is None:
                raise JWKError(f"unsupported curve {jwk.get('crv')!r}")
            x, y = _b64_uint(jwk, "x"), _b64_uint(jwk, "y")
            return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
        if kty == "OKP":
            return _okp_public_key(jwk)
    except ValueError as exc:
        if isinstance(exc, JWKError):
            raise
        raise JWKError(f"invalid {kty} public key: {exc}") from exc
    raise JWKError(f"unsupported key type {kty!r}")


def _okp_public_key(jwk: dict[str, Any]) -> ed25519.Ed25519PublicKey:
    """RFC 8037 section 2: Ed25519 only. Ed448 is a signature curve Signet does not verify
    with; X25519 and X448 are for key agreement, never signatures."""
    crv = jwk.get("crv")
    if crv != "Ed25519":
        raise JWKError(f"unsupported OKP curve {str(crv)[:16]!r}: only Ed25519 is supported")
    value = jwk.get("x")
    if not isinstance(value, str) or not value:
        raise JWKError("JWK member 'x' missing or not a string")
    try:
        raw = b64url_decode(value)
    except ValueError as exc:
        raise JWKError("JWK member 'x' is not base64url") from exc
    if len(raw) != ED25519_KEY_SIZE:
        raise JWKError(f"Ed25519 'x' must be {ED25519_KEY_SIZE} bytes, got {len(raw)}")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def jwk_algorithm(jwk: dict[str, Any], public_key: PublicKey) -> Algorithm:
    """The one algorithm a JWK may verify with: its `alg`, which must fit its key."""
    name = jwk.get("alg")
    if not isinstance(name, str):
        raise JWKError("JWK has no 'alg': Signet binds every key to one algorithm")
    try:
        alg = get_algorithm(name)
    except ValueError as exc:
        raise JWKError(str(exc)) from exc
    if not algorithm_fits_key(alg, public_key):
        kind = {KeyFamily.RSA: "an RSA key of at least 2048 bits",
                KeyFamily.OKP: "an OKP Ed25519 key"}.get(alg.family, f"an EC {alg.curve_name} key")
        raise JWKError(f"JWK alg {name} needs {kind}")
    return alg
