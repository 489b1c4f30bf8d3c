"""RFC 6750 on the wire: reading `Authorization: Bearer`, writing `WWW-Authenticate`.

Shared by the ASGI middleware and the FastAPI dependencies so both answer alike.
"""

from __future__ import annotations

import re

import msgspec

from signet.verifier.errors import InsufficientScope, KeysUnavailable, SignetError

_UNSAFE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')  # RFC 6750 section 3: no '"' or '\'


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Bearer <token>` (scheme case-insensitive), or None for no bearer credentials."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip(" ").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip(" ")


def header_token(value: bytes) -> str | None:
    """`bearer_token` of a raw header value, as the ASGI server passes it: the usual
    `Bearer <token>` is read from the bytes directly, anything else decoded and read by
    `bearer_token` (same answer either way)."""
    if value[:7] in (b"Bearer ", b"bearer "):
        return value[7:].strip(b" ").decode("latin-1")
    return bearer_token(value.decode("latin-1"))


def challenge(error: str | None = None, description: str | None = None, *,
              scope: str | None = None, realm: str | None = None) -> str:
    """A `WWW-Authenticate` value; with no error attribute when no token was sent (section 3.1)."""
    params = [f'{name}="{_UNSAFE.sub("?", value)}"' for name, value in (
        ("realm", realm), ("error", error), ("error_description", description), ("scope", scope))
        if value]
    return "Bearer " + ", ".join(params) if params else "Bearer"


def error_response(exc: SignetError, realm: str | None = None,
                   scope: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and JSON body for a refused request.

    401 invalid_token for a bad token; 403 insufficient_scope; 503 when the issuer's keys
    cannot be had (the token may be fine: retrying later helps, a new token does not).
    Descriptions are the fixed per-class texts, never derived from the token.
    """
    if isinstance(exc, KeysUnavailable):
        status, error, headers = 503, "temporarily_unavailable", {"Retry-After": "5"}
    elif isinstance(exc, InsufficientScope):
        status, error = 403, "insufficient_scope"
        headers = {"WWW-Authenticate": challenge(error, exc.description, scope=scope, realm=realm)}
    else:
        status, error = 401, "invalid_token"
        headers = {"WWW-Authenticate": challenge(error, exc.description, realm=realm)}
    body = msgspec.json.encode({"error": error, "error_description": exc.description, "code": exc.code})
    return status, {**headers, "Cache-Control": "no-store"}, body


def missing_token_response(realm: str | None = None) -> tuple[int, dict[str, str], bytes]:
    body = msgspec.json.encode({"error": "unauthorized", "error_description": "a bearer token is required"})
    return 401, {"WWW-Authenticate": challenge(realm=realm), "Cache-Control": "no-store"}, body
