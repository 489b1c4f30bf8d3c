"""Access and ID token shapes of the identity providers Signet's presets cover.

Each shape follows the provider's public documentation of its tokens (the header's `typ`, the
claims, their types), reduced to what matters to a verifier, with made-up values:

- Keycloak: Server Administration Guide (token `typ` claim: Bearer / ID; `azp`; `scope`).
- Entra ID v2.0: learn.microsoft.com "Access token claims reference" and "ID token claims
  reference" (`ver` 2.0, `azp`, `scp` string, `roles` array, `tid`; JWKS keys without `alg`,
  with `x5c` and `x5t`).
- Okta: developer.okta.com "Validate access tokens" / "Token reference" (`cid`, `scp` array,
  `ver` 1, no `typ` header; ID tokens: `amr`, `nonce`, no `cid`).
- Auth0: auth0.com "Access token profiles" (`azp`, `scope`, `gty`; the rfc9068 profile has
  `typ: at+jwt` and `client_id`) and "ID token structure" (`nonce`, audience the client).
- Amazon Cognito: "Understanding the access token" / "the ID token" (`token_use`,
  `client_id`, no `aud` in access tokens; no `typ` header).

Times are filled in by `at(shape, now)`; `{iss}` in values is replaced by the issuer URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NOW_KEYS = ("iat", "nbf", "exp", "auth_time")


@dataclass(frozen=True)
class Shape:
    """One token: header members besides alg/kid, claims, and what the verifier must say."""

    name: str
    header: dict[str, Any]
    claims: dict[str, Any]
    expect: str  # "ok" or the error code
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Provider:
    """A preset, its issuer path, its audience list, and its token shapes."""

    profile: str
    path: str  # the issuer URL is http://127.0.0.1:<port><path>
    audiences: tuple[str, ...]
    alg: str  # what the provider signs with
    key_has_alg: bool  # whether its JWKS names `alg` on each key
    shapes: tuple[Shape, ...] = field(default=())


def at(claims: dict[str, Any], issuer: str, now: int) -> dict[str, Any]:
    """The claims with times relative to `now` (values in the shape are offsets) and `{iss}`."""
    out: dict[str, Any] = {}
    for name, value in claims.items():
        if name in NOW_KEYS and isinstance(value, int):
            out[name] = now + value
        elif isinstance(value, str):
            out[name] = value.replace("{iss}", issuer)
        else:
            out[name] = value
    return out


_TIMES = {"iat": 0, "exp": 300}
TENANT = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
ENTRA_API = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
ENTRA_CLIENT = "0e3f2b9a-61b5-47b8-a3c9-1f2c5a0d9e11"

PROVIDERS: tuple[Provider, ...] = (
    Provider("keycloak", "/realms/acme", ("orders-api",), "RS256", True, (
        Shape("access token", {"typ": "JWT"}, {
            **_TIMES, "jti": "c2b1", "iss": "{iss}", "aud": ["orders-api", "account"],
            "sub": "9f1c6c1e-service-account", "typ": "Bearer", "azp": "billing",
            "scope": "profile orders:read", "client_id": "billing", "clientHost": "10.1.2.3"},
            "ok", frozenset({"profile", "orders:read"}), "billing", "9f1c6c1e-service-account"),
        Shape("ID token", {"typ": "JWT"}, {
            **_TIMES, "jti": "c2b2", "iss": "{iss}", "aud": "orders-api", "sub": "user-1",
            "typ": "ID", "azp": "orders-api", "nonce": "n-0S6", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"},
            "not_access_token"),
        Shape("refresh token", {"typ": "JWT"}, {
            **_TIMES, "jti": "c2b3", "iss": "{iss}", "aud": "orders-api", "sub": "user-1",
            "typ": "Refresh", "azp": "billing"}, "not_access_token"),
        Shape("other audience", {"typ": "JWT"}, {
            **_TIMES, "jti": "c2b4", "iss": "{iss}", "aud": "account", "sub": "user-1",
            "typ": "Bearer", "azp": "billing"}, "wrong_audience"),
    )),
    Provider("entra", f"/{TENANT}/v2.0", (ENTRA_API, "api://orders"), "RS256", False, (
        Shape("app-only access token", {"typ": "JWT"}, {
            **_TIMES, "nbf": 0, "aud": ENTRA_API, "iss": "{iss}", "aio": "E2ZgYJ", "azp": ENTRA_CLIENT,
            "azpacr": "1", "oid": "2f6a7c2e", "rh": "0.AR", "roles": ["Orders.Read"],
            "sub": "2f6a7c2e", "tid": TENANT, "uti": "u1", "ver": "2.0", "idtyp": "app"},
            "ok", frozenset({"Orders.Read"}), ENTRA_CLIENT, "2f6a7c2e"),
        Shape("delegated access token", {"typ": "JWT"}, {
            **_TIMES, "nbf": 0, "aud": "api://orders", "iss": "{iss}", "azp": ENTRA_CLIENT,
            "name": "Ada", "oid": "5d1e", "preferred_username": "ada@example.com",
            "scp": "Orders.Read Orders.Write", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "tid": TENANT, "ver": "2.0"},
            "ok", frozenset({"Orders.Read", "Orders.Write"}), ENTRA_CLIENT,
            "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"),
        Shape("ID token", {"typ": "JWT"}, {
            **_TIMES, "nbf": 0, "aud": ENTRA_API, "iss": "{iss}", "name": "Ada", "nonce": "123523",
            "oid": "5d1e", "preferred_username": "ada@example.com", "roles": ["Orders.Read"],
            "sub": "AAAA", "tid": TENANT, "ver": "2.0"}, "not_access_token"),
        Shape("v1.0 access token", {"typ": "JWT"}, {
            **_TIMES, "aud": ENTRA_API, "iss": "{iss}", "appid": ENTRA_CLIENT, "azp": ENTRA_CLIENT,
            "roles": ["Orders.Read"], "sub": "2f6a7c2e", "tid": TENANT, "ver": "1.0"},
            "not_access_token"),
    )),
    Provider("okta", "/oauth2/default", ("api://default",), "RS256", True, (
        Shape("client credentials access token", {}, {
            **_TIMES, "ver": 1, "jti": "AT.7f2", "iss": "{iss}", "aud": "api://default",
            "cid": "0oa1abc", "scp": ["orders.read", "orders.write"], "sub": "0oa1abc"},
            "ok", frozenset({"orders.read", "orders.write"}), "0oa1abc", "0oa1abc"),
        Shape("ID token", {}, {
            **_TIMES, "sub": "00u1", "ver": 1, "iss": "{iss}", "aud": "api://default",
            "jti": "ID.9e1", "amr": ["pwd"], "idp": "00o1", "nonce": "n1", "auth_time": -10,
            "at_hash": "preview"}, "not_access_token"),
    )),
    Provider("auth0", "/", ("https://api.acme.example",), "RS256", True, (
        Shape("client credentials access token", {"typ": "JWT"}, {
            **_TIMES, "iss": "{iss}", "sub": "Xk2mR@clients", "aud": "https://api.acme.example",
            "gty": "client-credentials", "azp": "Xk2mR", "scope": "read:orders"},
            "ok", frozenset({"read:orders"}), "Xk2mR", "Xk2mR@clients"),
        Shape("rfc9068-profile access token", {"typ": "at+jwt"}, {
            **_TIMES, "iss": "{iss}", "sub": "auth0|42",
            "aud": ["https://api.acme.example", "https://acme.us.auth0.com/userinfo"],
            "client_id": "Xk2mR", "jti": "j-1", "scope": "openid read:orders"},
            "ok", frozenset({"openid", "read:orders"}), "Xk2mR", "auth0|42"),
        Shape("ID token", {"typ": "JWT"}, {
            **_TIMES, "iss": "{iss}", "sub": "auth0|42", "aud": "https://api.acme.example",
            "nonce": "abc", "sid": "s1", "name": "Ada"}, "not_access_token"),
    )),
    Provider("cognito", "/eu-west-1_Abc123", ("3n4b5urk1ft4fl3mg5e62d9ado",), "RS256", True, (
        Shape("access token", {}, {
            **_TIMES, "sub": "3n4b5urk1ft4fl3mg5e62d9ado", "token_use": "access",
            "scope": "orders/read", "auth_time": 0, "iss": "{iss}", "version": 2, "jti": "j-2",
            "client_id": "3n4b5urk1ft4fl3mg5e62d9ado"},
            "ok", frozenset({"orders/read"}), "3n4b5urk1ft4fl3mg5e62d9ado", "3n4b5urk1ft4fl3mg5e62d9ado"),
        Shape("ID token", {}, {
            **_TIMES, "sub": "aab3", "aud": "3n4b5urk1ft4fl3mg5e62d9ado", "email_verified": True,
            "token_use": "id", "auth_time": 0, "iss": "{iss}", "cognito:username": "ada",
            "jti": "j-3", "origin_jti": "o-1", "email": "ada@example.com"}, "not_access_token"),
        Shape("another app client", {}, {
            **_TIMES, "sub": "other", "token_use": "access", "scope": "orders/read",
            "iss": "{iss}", "jti": "j-4", "client_id": "7other0client"}, "wrong_audience"),
    )),
)
