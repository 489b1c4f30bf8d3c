"""private_key_jwt (RFC 7523 section 3, RFC 7521 section 4.2): verify a client assertion.

Strict on purpose: the algorithm is the one bound to the registered key (never taken
from the token alone), `iss` = `sub` = client_id, `aud` names this token endpoint or
the issuer, `exp` and `jti` are required, the assertion lives at most
SIGNET_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS, and each `jti` is accepted once.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from .clients import Client, ClientKey
from .replay import ReplayCache

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 256
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "jti"]


class AssertionRejected(Exception):
    """The assertion does not authenticate the client; str() is safe to return to it."""


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
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise AssertionRejected("client assertion is not a JWS") from None
    if str(header.get("typ", "")).lower() in ("at+jwt", "application/at+jwt"):
        raise AssertionRejected("an access token is not a client assertion (RFC 8725 section 3.11)")
    for key in _candidate_keys(client, header):
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key.public_key, algorithms=[key.alg.name], audience=audiences,
                issuer=client.client_id, leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True})
            return claims
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:  # signature good, claims wrong: the details help the client
            raise AssertionRejected(f"client assertion refused: {exc}") from None
    raise AssertionRejected("client authentication failed")  # no registered key verifies it


async def verify_assertion(assertion: str, client: Client, *, audiences: list[str],
                           max_lifetime: int, replay: ReplayCache) -> None:
    claims = _verified_claims(assertion, client, audiences)
    if claims.get("sub") != client.client_id:
        raise AssertionRejected("client assertion refused: sub must equal the client_id")
    now = time.time()
    exp = claims["exp"]
    if exp - now > max_lifetime + LEEWAY_SECONDS:
        raise AssertionRejected(f"client assertion refused: exp is more than {max_lifetime} s ahead")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise AssertionRejected("client assertion refused: jti must be a string of 1-256 characters")
    if not await replay.first_use(client.client_id, jti, int(exp - now) + LEEWAY_SECONDS):
        raise AssertionRejected("client assertion refused: jti already used (replay)")
