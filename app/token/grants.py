"""What an authenticated client gets: scopes, audience and lifetime, then RFC 9068 claims.

- `scope` (RFC 6749 section 3.3): a subset of the client's scopes; omitted means the
  client's default scopes.
- `audience`, or RFC 8707 `resource` (an absolute URI): one of the client's audiences;
  omitted means the first audience listed for the client. One audience per token:
  several `resource` parameters are refused with `invalid_target`, so every token is
  usable at exactly one service (ask once per service).
- lifetime: the client's `token_lifetime_seconds`, else SIGNET_TOKEN_LIFETIME_SECONDS,
  never above SIGNET_MAX_TOKEN_LIFETIME_SECONDS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .form import TokenForm
from .oauth_errors import OAuthError, invalid_request
from .registry import SCOPE_TOKEN, Client

GRANT_TYPE = "client_credentials"  # the one grant (RFC 6749 section 4.4)
# Every claim of an access token (Grant.claims); discovery lists them as claims_supported.
TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope")
JTI_BYTES = 16  # 128 bits (RFC 9068 section 2.2 asks for a collision-resistant jti)


@dataclass(frozen=True, slots=True)
class Grant:
    client_id: str
    scopes: tuple[str, ...]
    audience: str
    lifetime: int

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def claims(self, issuer: str, now: int) -> dict[str, Any]:
        """RFC 9068 section 2.2: the token's subject is the client itself."""
        return {"iss": issuer, "sub": self.client_id, "aud": self.audience, "exp": now + self.lifetime,
                "iat": now, "nbf": now, "jti": secrets.token_urlsafe(JTI_BYTES),
                "client_id": self.client_id, "scope": self.scope}


def _scopes(client: Client, requested: str | None) -> tuple[str, ...]:
    if requested is None:
        if not client.default_scopes:
            raise OAuthError("invalid_scope", "no scope requested and the client has no default scopes")
        return client.default_scopes
    tokens = requested.split(" ")
    if not all(SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise OAuthError("invalid_scope", "malformed scope: space-separated scope tokens expected")
    refused = [t for t in tokens if t not in client.scopes]
    if refused:
        raise OAuthError("invalid_scope", f"scope not allowed for this client: {' '.join(refused)}")
    return tuple(dict.fromkeys(tokens))


def _is_resource_uri(value: str) -> bool:
    """RFC 8707 section 2: an absolute URI without a fragment."""
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or bool(parts.path)) and "#" not in value


def _audience(client: Client, audience: str | None, resources: tuple[str, ...]) -> str:
    if audience is not None and resources:
        raise invalid_request("send either audience or resource, not both")
    if len(resources) > 1:
        raise OAuthError("invalid_target", "one resource per token request; request one token per resource")
    if resources and not _is_resource_uri(resources[0]):
        raise OAuthError("invalid_target", "resource must be an absolute URI without a fragment")
    wanted = audience if audience is not None else (resources[0] if resources else None)
    if wanted is None:
        return client.audiences[0]
    if wanted not in client.audiences:
        raise OAuthError("invalid_target", f"audience not allowed for this client: {wanted}")
    return wanted


def grant_for(client: Client, form: TokenForm, default_lifetime: int, max_lifetime: int) -> Grant:
    if not client.enabled:
        # RFC 6749 section 1.3.4: the client credentials are the authorization grant; a
        # disabled client's grant is revoked. Only a caller holding the credentials sees this.
        raise OAuthError("invalid_grant", "client is disabled", client_id=client.client_id)
    try:
        scopes = _scopes(client, form.get("scope"))
        audience = _audience(client, form.get("audience"), form.all("resource"))
    except OAuthError as exc:
        exc.client_id = client.client_id
        raise
    lifetime = min(client.token_lifetime_seconds or default_lifetime, max_lifetime)
    return Grant(client.client_id, scopes, audience, lifetime)
