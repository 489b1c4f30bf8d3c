"""Issuer profiles: what an access token from one kind of issuer looks like.

A profile decides the header `typ` values accepted, the claims that must be present, where
scopes and the client id are read from, how the audience is checked, and how the provider's
ID tokens are told apart from its access tokens. It never loosens the signature, the
algorithm binding, `iss`, the time checks or the header rules: those are the same for every
issuer. A profile is resolved once per trusted issuer, when the verifier is built.

Each preset follows its provider's public documentation of its access tokens:

- Keycloak: Server Administration Guide, "Audience support" and the token's `typ` claim
  (`Bearer` for access tokens, `ID` for ID tokens, `Refresh` for refresh tokens).
- Microsoft Entra ID: "Access token claims reference" (v2.0 tokens: `ver` is `2.0`, `azp` is
  the client, `scp` delegated scopes, `roles` application permissions; ID tokens carry no
  `azp`, no `scp`).
- Okta: "Validate access tokens" and the access token claims of custom authorization servers
  (`cid` the client, `scp` an array of scopes; ID tokens carry no `cid`).
- Auth0: "Access token profiles" (the `auth0` profile: `azp` the client, `scope`; the
  `rfc9068` profile: `typ: at+jwt`, `client_id`).
- Amazon Cognito: "Understanding the access token" (no `aud`; `client_id` the app client,
  checked against an allow-list; `token_use` is `access`, and `id` in ID tokens).

Three more describe workload identity tokens, which Signet's token endpoint accepts as
client assertions (federated client authentication), never as access tokens:

- `kubernetes`: service-account tokens ("Managing Service Accounts", "Service account token
  volume projection"): no header `typ`, RS256 or ES256, `sub` is
  `system:serviceaccount:<namespace>:<name>`, and a `kubernetes.io` claim holds `namespace`,
  `serviceaccount` {name, uid} and the object the token is bound to (`pod` or `secret`).
- `spiffe`: JWT-SVIDs (SPIFFE JWT-SVID specification, section 3): `typ` absent, `JWT` or
  `JOSE`; `sub` the SPIFFE ID, `aud` and `exp` required (`iss` too here: the issuer is found
  by it, so the SPIRE server's `jwt_issuer` must be set).
- `github-actions`: GitHub's OIDC tokens ("About security hardening with OpenID Connect"):
  `typ: JWT`, RS256, `sub` such as `repo:<owner>/<repo>:ref:refs/heads/main`, with `jti`,
  `repository`, `ref` and, for jobs that use one, `environment`.

None of the three accepts `typ: at+jwt`: an access token is never a workload identity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from signet.verifier.errors import VerifierConfigError

# RFC 9068 section 2.2: every JWT access token carries these.
RFC9068_REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
# RFC 9068 section 4: `at+jwt`, also spelled with its media type prefix; compared lowercased.
ACCESS_TOKEN_TYPES = frozenset(("at+jwt", "application/at+jwt"))
JWT_TYPES = frozenset(("jwt", "application/jwt"))
NO_TYP = ""  # stands for a header without `typ` in `IssuerProfile.token_types`
JOSE_TYPES = frozenset(("jose",))  # JWT-SVID section 3: typ may be JWT or JOSE
# OpenID Connect Core section 2 and 3.1.3.6: claims that only ID tokens carry.
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash")


@dataclass(frozen=True, slots=True)
class IssuerProfile:
    """The shape of one kind of issuer's access tokens (see the module docstring)."""

    name: str
    token_types: frozenset[str]  # lowercased header `typ` values; NO_TYP: header without typ
    required: tuple[str, ...]  # claims that must be present (`iss` and `exp` always are)
    scope_claims: tuple[str, ...] = ("scope",)  # each a space-separated string or an array
    client_claims: tuple[str, ...] = ("client_id",)  # the first present is the client id
    # "aud": the audience list is checked against `aud`; "client_id": `aud` is not read and
    # the client id (first of client_claims) must be on the list instead (Cognito).
    audience_from: str = "aud"
    # How ID tokens are told apart, checked before anything else of the payload: claims with
    # a fixed value; groups of claims of which at least one must be present; claims an access
    # token never carries. Refused with `not_access_token`.
    must_equal: tuple[tuple[str, Any], ...] = ()
    needs: tuple[tuple[str, ...], ...] = ()
    refused_claims: tuple[str, ...] = ()
    tells_id_tokens_apart: str = ""  # for the docs table
    # "access": an access token profile; "workload": a workload identity (federated client
    # authentication at the token endpoint only, never accepted by middleware as access).
    kind: str = "access"

    def with_required(self, required: tuple[str, ...]) -> IssuerProfile:
        """The same profile with another set of required claims (the `required_claims` option)."""
        return replace(self, required=required)


PROFILES: dict[str, IssuerProfile] = {p.name: p for p in (
    IssuerProfile(
        "rfc9068", ACCESS_TOKEN_TYPES, RFC9068_REQUIRED_CLAIMS,
        tells_id_tokens_apart="header typ at+jwt (RFC 9068 section 4)"),
    IssuerProfile(
        "oauth-access-token", ACCESS_TOKEN_TYPES | JWT_TYPES | {NO_TYP}, ("iss", "exp", "aud"),
        scope_claims=("scope", "scp"), client_claims=("client_id", "azp", "cid"),
        refused_claims=ID_TOKEN_ONLY_CLAIMS,
        tells_id_tokens_apart="refuses nonce, at_hash, c_hash; the audience check"),
    IssuerProfile(
        "keycloak", JWT_TYPES | ACCESS_TOKEN_TYPES, ("iss", "exp", "iat", "aud", "sub"),
        client_claims=("azp", "client_id"), must_equal=(("typ", "Bearer"),),
        needs=(("azp", "client_id"),),
        tells_id_tokens_apart="claim typ must be Bearer (ID tokens: ID)"),
    IssuerProfile(
        "entra", JWT_TYPES, ("iss", "exp", "iat", "aud", "sub", "tid"),
        scope_claims=("scp", "roles"), client_claims=("azp",), must_equal=(("ver", "2.0"),),
        needs=(("azp",), ("scp", "roles")), refused_claims=ID_TOKEN_ONLY_CLAIMS,
        tells_id_tokens_apart="needs azp and one of scp, roles (ID tokens carry no azp, no"
                              " scp); refuses nonce, at_hash, c_hash"),
    IssuerProfile(
        "okta", JWT_TYPES | {NO_TYP}, ("iss", "exp", "iat", "aud", "sub", "jti"),
        scope_claims=("scp",), client_claims=("cid",), needs=(("cid",),),
        refused_claims=ID_TOKEN_ONLY_CLAIMS,
        tells_id_tokens_apart="needs cid (ID tokens carry none); refuses nonce, at_hash, c_hash"),
    IssuerProfile(
        "auth0", JWT_TYPES | ACCESS_TOKEN_TYPES, ("iss", "exp", "iat", "aud", "sub"),
        client_claims=("azp", "client_id"), needs=(("azp", "client_id"),),
        refused_claims=ID_TOKEN_ONLY_CLAIMS,
        tells_id_tokens_apart="needs azp or client_id; refuses nonce, at_hash, c_hash"),
    IssuerProfile(
        "cognito", JWT_TYPES | {NO_TYP}, ("iss", "exp", "iat", "sub", "client_id"),
        audience_from="client_id", must_equal=(("token_use", "access"),),
        tells_id_tokens_apart="claim token_use must be access (ID tokens: id)"),
    IssuerProfile(
        "kubernetes", JWT_TYPES | {NO_TYP}, ("iss", "exp", "iat", "aud", "sub", "kubernetes.io"),
        client_claims=(), scope_claims=(), needs=(("kubernetes.io",),),
        refused_claims=("client_id", "scope"), kind="workload",
        tells_id_tokens_apart="workload identity: needs kubernetes.io; refuses client_id, scope"),
    IssuerProfile(
        "spiffe", JWT_TYPES | JOSE_TYPES | {NO_TYP}, ("iss", "exp", "aud", "sub"),
        client_claims=(), scope_claims=(), refused_claims=("client_id", "scope"), kind="workload",
        tells_id_tokens_apart="workload identity: sub must be a SPIFFE ID; refuses client_id, scope"),
    IssuerProfile(
        "github-actions", JWT_TYPES, ("iss", "exp", "iat", "aud", "sub", "jti", "repository"),
        client_claims=(), scope_claims=(), needs=(("repository",),),
        refused_claims=("client_id", "scope"), kind="workload",
        tells_id_tokens_apart="workload identity: needs repository; refuses client_id, scope"),
)}
WORKLOAD_PROFILES = tuple(name for name, profile in PROFILES.items() if profile.kind == "workload")
DEFAULT_PROFILE = "rfc9068"


def profile_named(name: str, variable: str, kind: str = "access") -> IssuerProfile:
    """A preset of `kind` by name, or a configuration error naming `variable` and the choices.

    Why the kind: a workload identity (a Kubernetes service-account token, say) must never
    pass as an access token, so the verifier's settings offer access profiles only, and the
    token endpoint's federation settings workload profiles only."""
    profile = PROFILES.get(name.strip().lower()) if isinstance(name, str) else None
    if profile is None or profile.kind != kind:
        choices = ", ".join(p.name for p in PROFILES.values() if p.kind == kind)
        raise VerifierConfigError(variable, f"unknown issuer profile {str(name)[:40]!r};"
                                  f" choose from {choices}")
    return profile


def accepted_types(profiles: Any) -> frozenset[str]:
    """Every header typ some trusted issuer accepts: refused before the payload is read."""
    types: frozenset[str] = frozenset()
    for profile in profiles:
        types |= profile.token_types
    return types
