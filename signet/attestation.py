"""Key attestations: a root key (in KMS) vouches for an ephemeral signing key.

An attestation is a compact JWS, `typ` signet-key-attestation+jwt, signed by the root,
over `{iss, kid, jwk, nbf, exp, iat}`: "this public key may sign tokens of issuer `iss`
from `nbf` to `exp`". The issuer publishes it in the JWK's `signet_attestation` member;
a verifier that pins the root accepts the key only if the attestation checks out, so
neither the JWKS endpoint, the network nor Redis can inject a signing key.

Pure functions, no I/O: the issuer signs the input with whatever signs (KMS), and the
verifier and the issuer's Redis reader both call `verify_attestation`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signet import signatures
from signet.jose import EncodingError, b64url_decode, signing_input
from signet.jwk import JWKError, PublicKey, jwk_algorithm, jwk_to_public_key, public_key_members, thumbprint

ATTESTATION_TYPE = "signet-key-attestation+jwt"
ATTESTATION_MEMBER = "signet_attestation"  # the JWK member carrying it (RFC 7517 section 4)
MAX_ATTESTATION_BYTES = 8192


class AttestationError(ValueError):
    """An attestation that does not vouch for the key; `reason` is a stable code for tests and logs."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"attestation {reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RootKey:
    """A pinned root public key: verifies attestations with its one algorithm."""

    kid: str  # RFC 7638 thumbprint, computed from the key, never taken from a document
    jwk: Mapping[str, Any]
    check: signatures.SignatureCheck

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> RootKey:
        public_key = jwk_to_public_key(dict(jwk))
        alg = jwk_algorithm(dict(jwk), public_key)
        return cls(thumbprint(public_key), jwk, signatures.verifier_for(alg, public_key))

    @property
    def alg(self) -> str:
        return str(self.jwk["alg"])


@dataclass(frozen=True, slots=True)
class Attestation:
    """What a verified attestation says."""

    issuer: str
    kid: str
    jwk: Mapping[str, Any]
    not_before: float
    expires: float
    root_kid: str
    compact: str


def attestation_input(issuer: str, jwk: Mapping[str, Any], root_alg: str, root_kid: str,
                      not_before: float, expires: float, issued_at: float) -> bytes:
    """The JWS signing input the root signs; `jwk` is the ephemeral key's public JWK."""
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError("refusing to attest a JWK with private members")
    header = {"alg": root_alg, "kid": root_kid, "typ": ATTESTATION_TYPE}
    payload = {"iss": issuer, "kid": jwk["kid"], "jwk": dict(jwk), "nbf": int(not_before),
               "exp": int(expires), "iat": int(issued_at)}
    return signing_input(header, payload)


def _segment_json(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(segment))
    except (EncodingError, ValueError, RecursionError):
        raise AttestationError("malformed", f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise AttestationError("malformed", f"{what} is not a JSON object")
    return value


def _same_key(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same public key and algorithm (other members, like the attestation itself, aside)."""
    try:
        ka, kb = jwk_to_public_key(dict(a)), jwk_to_public_key(dict(b))
    except JWKError:
        return False
    return public_key_members(ka) == public_key_members(kb) and a.get("alg") == b.get("alg")


def verify_attestation(compact: object, roots: Mapping[str, RootKey], issuer: str,
                       jwk: Mapping[str, Any], now: float, leeway: float = 0.0) -> Attestation:
    """The attestation of `jwk` if it holds; else AttestationError with one of the reasons
    missing, malformed, wrong_type, unknown_root, bad_signature, wrong_issuer,
    key_mismatch, not_yet_valid, expired.

    `roots` maps pinned root thumbprints to keys. `jwk` is the JWKS entry being admitted:
    its kid must be the thumbprint of its own key material, and the attested jwk must be
    the same key with the same alg.
    """
    if compact is None:
        raise AttestationError("missing", f"the JWK has no {ATTESTATION_MEMBER}")
    if not isinstance(compact, str) or len(compact) > MAX_ATTESTATION_BYTES:
        raise AttestationError("malformed", "not a compact JWS string of reasonable size")
    parts = compact.split(".")
    if len(parts) != 3:
        raise AttestationError("malformed", "not a compact JWS")
    header = _segment_json(parts[0], "header")
    if header.get("typ") != ATTESTATION_TYPE:
        raise AttestationError("wrong_type", f"typ is {str(header.get('typ'))[:64]!r}")
    if "crit" in header or "jwk" in header or "jku" in header or "x5u" in header:
        raise AttestationError("malformed", "header carries a parameter that is never honoured")
    root = roots.get(str(header.get("kid")))
    if root is None:
        raise AttestationError("unknown_root", "signed by a key that is not a pinned root")
    if header.get("alg") != root.alg:
        raise AttestationError("bad_signature", f"alg {str(header.get('alg'))[:16]!r} is not the root's")
    try:
        signature = b64url_decode(parts[2])
    except EncodingError:
        raise AttestationError("malformed", "signature is not base64url") from None
    if not root.check(f"{parts[0]}.{parts[1]}".encode("ascii"), signature):
        raise AttestationError("bad_signature", "does not verify under the pinned root")
    claims = _segment_json(parts[1], "payload")
    if claims.get("iss") != issuer:
        raise AttestationError("wrong_issuer", "names another issuer")
    attested = claims.get("jwk")
    if not isinstance(attested, dict) or not _same_key(attested, jwk):
        raise AttestationError("key_mismatch", "attests another key or algorithm")
    try:
        kid = thumbprint(jwk_to_public_key(dict(jwk)))
    except JWKError as exc:
        raise AttestationError("key_mismatch", str(exc)) from None
    if claims.get("kid") != kid or jwk.get("kid") != kid:
        raise AttestationError("key_mismatch", "kid is not the key's RFC 7638 thumbprint")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int | float) or not isinstance(exp, int | float) or isinstance(
            nbf, bool) or isinstance(exp, bool):
        raise AttestationError("malformed", "nbf and exp must be numbers")
    if now + leeway < nbf:
        raise AttestationError("not_yet_valid", "nbf is in the future")
    if now - leeway >= exp:
        raise AttestationError("expired", "exp has passed")
    return Attestation(issuer, kid, attested, float(nbf), float(exp), root.kid, compact)


def root_from_public_key(public_key: PublicKey, jwk: Mapping[str, Any]) -> RootKey:
    """A RootKey for the issuer's own root (it checks what it reads back from Redis)."""
    return RootKey(thumbprint(public_key), jwk, signatures.verifier_for(
        jwk_algorithm(dict(jwk), public_key), public_key))
