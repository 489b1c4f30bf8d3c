"""private_key_jwt (RFC 7523 section 3, RFC 7521 section 4.2): verify a client assertion.

Strict on purpose: the algorithm is the one bound to the registered key (never taken
from the token alone), `iss` = `sub` = client_id, `aud` names this token endpoint or
the issuer, `exp` and `jti` are required, the assertion lives at most
SIGNET_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS, and each `jti` is accepted once.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import OKPAlgorithm

from .registry import Client, ClientKey
from .replay import ReplayCache

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 256
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "jti"]


def register_ed25519_with_pyjwt() -> None:
    """PyJWT 2.15 knows `EdDSA` but not `Ed25519`, RFC 9864's fully specified name for the
    same signature; a client key registered as Ed25519 must verify all the same. Only a
    `decode` that lists Ed25519 in `algorithms` (one bound to such a key) ever uses it."""
    if "Ed25519" not in jwt.algorithms.get_default_algorithms():
        try:
            jwt.register_algorithm("Ed25519", OKPAlgorithm())
        except ValueError:
            pass  # registered already (a module reload)


register_ed25519_with_pyjwt()


class AssertionRejected(Exception):
    """The assertion does not authenticate the client; str() is safe to return to it."""


def unverified_issuer(assertion: str) -> object:
    """The `iss` the assertion claims (unverified): a federation issuer's or the client's."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims.get("iss")


def unverified_client_id(assertion: str) -> str | None:
    """The client the assertion claims to come from (`sub`, which must equal `iss`)."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


def _candidate_keys(client: Client, header: dict[str, Any]) -> list[ClientKey]:
    alg, kid = header.get("alg"), header.get("kid")
    return [key for key in client.keys if key.alg.name == alg and (kid is None or key.kid == kid)]


def _verified_claims(assertion: str, client: Client, audiences: list[str]) -> dict[str, Any]:
    """Claims of an assertion a registered key verifies. Until a signature has verified,
    every failure reads the same for a known and an unknown client (which client ids use
    private_key_jwt is not to be learnt from the error text); the `typ` check comes after."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise AssertionRejected("client assertion is not a JWS") from None
    for key in _candidate_keys(client, header):
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key.public_key, algorithms=[key.alg.name], audience=audiences,
                issuer=client.client_id, leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True})
        except jwt.InvalidSignatureError:
            continue
        except (jwt.DecodeError, jwt.InvalidAlgorithmError):
            continue  # not verifiable with this key: as good as a wrong signature
        except (jwt.PyJWTError, TypeError) as exc:  # signature good, claims wrong: say why
            # PyJWT raises TypeError, not an error of its own, for a non-string `iss`.
            raise AssertionRejected(f"client assertion refused: {exc}") from None
        if str(header.get("typ", "")).lower() in ("at+jwt", "application/at+jwt"):
            raise AssertionRejected("an access token is not a client assertion (RFC 8725 section 3.11)")
        _check_claim_types(claims)
        return claims
    raise AssertionRejected(FAILED)  # no registered key verifies it


FAILED = "client authentication failed"


def _number(value: object) -> bool:
    """A JSON number PyJWT would not have coerced from text: int or float, finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float range
        return False


def _check_claim_types(claims: dict[str, Any]) -> None:
    """PyJWT accepts `exp: "1796..."` and other types its own checks survive; refuse them."""
    for name in ("exp", "iat", "nbf"):
        if name in claims and not _number(claims[name]):
            raise AssertionRejected(f"client assertion refused: {name} must be a number (NumericDate)")
    for name in ("iss", "sub", "jti"):
        if not isinstance(claims.get(name), str):
            raise AssertionRejected(f"client assertion refused: {name} must be a string")
    aud = claims.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and aud and all(
            isinstance(item, str) for item in aud))):
        raise AssertionRejected("client assertion refused: aud must be a string or a list of strings")


_DUMMY_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


def check_without_a_client(assertion: str) -> None:
    """The work of one signature check, for an assertion naming no registered client, so
    that an unknown client costs what a known client's bad assertion costs."""
    with contextlib.suppress(jwt.PyJWTError):
        jwt.decode(assertion, _DUMMY_KEY, algorithms=["ES256"],
                   options={"verify_signature": True, "verify_exp": False, "verify_aud": False})


def replay_ttl(exp: float, now: float) -> int:
    """Whole seconds the jti record must live: past the last instant the assertion is
    accepted (`exp` plus the leeway), rounded up, plus one second of margin."""
    return max(1, math.ceil(exp + LEEWAY_SECONDS - now) + 1)


async def verify_assertion(assertion: str, client: Client, *, audiences: list[str],
                           max_lifetime: int, replay: ReplayCache,
                           clock: Callable[[], float] = time.time) -> None:
    claims = _verified_claims(assertion, client, audiences)
    if claims.get("sub") != client.client_id:
        raise AssertionRejected("client assertion refused: sub must equal the client_id")
    now = clock()
    exp = claims["exp"]
    if exp - now > max_lifetime + LEEWAY_SECONDS:
        raise AssertionRejected(f"client assertion refused: exp is more than {max_lifetime} s ahead")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise AssertionRejected("client assertion refused: jti must be a string of 1-256 characters")
    if not await replay.first_use(client.client_id, jti, replay_ttl(exp, now)):
        raise AssertionRejected("client assertion refused: jti already used (replay)")
