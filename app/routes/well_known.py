"""JWKS and discovery documents: public, cacheable, and readable cross-origin by browsers."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from ..asgi.openapi_docs import NOT_MODIFIED
from ..keys.jwks import JwksDocument, etag_matches
from ..settings import Settings
from ..token.client_auth import AUTH_METHODS
from ..token.grants import GRANT_TYPE, TOKEN_CLAIMS
from ..token.registry import ASSERTION_ALGORITHMS

router = APIRouter()

JWKS_PATH = "/.well-known/jwks.json"
OPENID_PATH = "/.well-known/openid-configuration"
OAUTH_PATH = "/.well-known/oauth-authorization-server"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path

# Only these documents are meant for browsers; nothing else on the issuer sends CORS headers.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Cache-Control",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match",
    "Access-Control-Max-Age": "86400",
}


def _cacheable(body: bytes, etag: str, request: Request, max_age: int) -> Response:
    headers = {**CORS_HEADERS, "ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def discovery_document(settings: Settings, jwks: JwksDocument) -> dict[str, object]:
    """RFC 8414 metadata, also served as OpenID discovery (verifier libraries fetch that first).

    Every list is what the issuer really accepts or produces; docs/endpoints.md says why the
    fields OpenID Connect Discovery requires hold what they hold for a server that issues no
    ID tokens and has no authorization endpoint.
    """
    issuer = settings.issuer_url
    in_use = list(jwks.algorithms)
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "grant_types_supported": [GRANT_TYPE],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        # What client assertions are verified with (the client's key decides), not what this
        # issuer signs with.
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # No authorization endpoint, so no response type can be asked for; both specifications
        # require a non-empty list, and "none" is the registered value that returns nothing.
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        # No ID tokens: the algorithms access tokens are signed with (libraries such as go-oidc
        # take their accepted algorithms from this list), plus RS256, which OpenID Connect
        # Discovery requires in it.
        "id_token_signing_alg_values_supported": in_use + ([] if "RS256" in in_use else ["RS256"]),
        "access_token_signing_alg_values_supported": in_use,
        "claims_supported": list(TOKEN_CLAIMS),
        # OpenID Connect Discovery's default for an omitted value is true.
        "request_uri_parameter_supported": False,
    }


# HEAD as well as GET (RFC 9110 section 9.3.2; the preflight already allows it): the server
# sends the headers of the GET answer without its body.
@router.head(JWKS_PATH, include_in_schema=False)
@router.get(JWKS_PATH, tags=["well-known"], summary="Public signing keys (RFC 7517 JWK Set)",
             responses=NOT_MODIFIED)
async def jwks(request: Request) -> Response:
    document: JwksDocument = request.app.state.jwks
    settings: Settings = request.app.state.settings
    return _cacheable(document.body, document.etag, request, settings.jwks_max_age)


@router.head(OPENID_PATH, include_in_schema=False)
@router.head(OAUTH_PATH, include_in_schema=False)
@router.get(OPENID_PATH, tags=["well-known"], summary="OpenID Connect discovery",
             responses=NOT_MODIFIED)
@router.get(OAUTH_PATH, tags=["well-known"], summary="OAuth 2.0 server metadata (RFC 8414)",
             responses=NOT_MODIFIED)
async def discovery(request: Request) -> Response:
    body: bytes = request.app.state.discovery_body
    etag: str = request.app.state.discovery_etag
    return _cacheable(body, etag, request, request.app.state.settings.jwks_max_age)


@router.options(JWKS_PATH, include_in_schema=False)
@router.options(OPENID_PATH, include_in_schema=False)
@router.options(OAUTH_PATH, include_in_schema=False)
async def preflight() -> Response:
    return Response(status_code=204, headers=PREFLIGHT_HEADERS)


def discovery_bytes(settings: Settings, jwks_document: JwksDocument) -> bytes:
    return json.dumps(discovery_document(settings, jwks_document), separators=(",", ":")).encode()
