"""POST /token: the OAuth 2.0 client credentials grant (RFC 6749 section 4.4).

Request: form-encoded `grant_type=client_credentials`, optional `scope`, `audience` or
`resource`, and one client authentication method. Response: an RFC 9068 JWT access
token, never cached. Every refusal is an RFC 6749 section 5.2 JSON error and one audit
line; a signing key that cannot be reached is 503 with Retry-After, not 500.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from signet.keys.base import KeyBackendError, PublishedKey
from signet.signer import JwsSigner
from signet.verifier import VerifierConfigError

from ..asgi.openapi_docs import TOKEN_REQUEST, TOKEN_RESPONSES
from ..settings import ConfigurationError, Settings
from ..state.redis_link import RedisLink
from ..token import audit
from ..token.client_auth import Authenticator, extract_credentials
from ..token.client_secrets import SecretVerifier
from ..token.federation import Federation, read_federation_file
from ..token.form import read_token_form, token_headers
from ..token.grants import GRANT_TYPE, grant_for
from ..token.oauth_errors import NO_STORE, OAuthError, OAuthJSONResponse, invalid_request, try_later
from ..token.registry import ClientRegistry, RegistryError
from ..token.replay import ReplayCache
from ..token.throttle import FailureThrottle, ThrottleLimits
from .well_known import TOKEN_PATH

router = APIRouter()
log = logging.getLogger("signet.token")

SIGNING_RETRY_AFTER_SECONDS = 5


@dataclass
class TokenEndpoint:
    """Everything POST /token needs, built once when the issuer starts."""

    settings: Settings
    signer: JwsSigner
    authenticator: Authenticator
    redis: RedisLink | None
    federation: Federation

    @classmethod
    def create(cls, settings: Settings, signer: JwsSigner) -> TokenEndpoint:
        try:
            registry = ClientRegistry(settings.clients_file)
        except RegistryError as exc:
            raise ConfigurationError(f"SIGNET_CLIENTS_FILE: {exc}") from None
        redis = RedisLink(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        replay = ReplayCache(redis)
        federation = cls._federation(settings, registry, replay)
        limits = ThrottleLimits(settings.auth_failures_per_client, settings.auth_failures_per_address,
                                settings.auth_failure_window_seconds)
        authenticator = Authenticator(
            registry, SecretVerifier(settings.client_auth_cache_seconds),
            FailureThrottle(limits, redis), replay,
            assertion_audiences=[settings.token_endpoint, settings.issuer_url],
            assertion_max_lifetime=settings.client_assertion_max_lifetime_seconds,
            federation=federation)
        log.info("token endpoint ready", extra={"fields": {
            "clients_file": str(settings.clients_file), "clients": len(registry),
            "federation_issuers": list(federation.issuers),
            "shared_state": "redis" if redis else "memory"}})
        return cls(settings, signer, authenticator, redis, federation)

    @staticmethod
    def _federation(settings: Settings, registry: ClientRegistry, replay: ReplayCache) -> Federation:
        issuers = ()
        if settings.federation_issuers_file is not None:
            try:
                issuers = read_federation_file(
                    settings.federation_issuers_file, audiences=settings.federation_audiences,
                    max_lifetime=settings.federation_max_assertion_lifetime_seconds,
                    own_issuer=settings.issuer_url)
            except VerifierConfigError as exc:
                raise ConfigurationError(str(exc)) from None
        return Federation(issuers, registry, replay, redis_url=settings.redis_url,
                          redis_prefix=settings.redis_prefix + "federation:")

    async def aclose(self) -> None:
        await self.federation.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        scope = request.scope
        client_address = scope.get("client")  # request.client, without building an Address
        source = client_address[0] if client_address else "unknown"
        headers = token_headers(scope["headers"])
        method: str | None = None
        try:
            form = await read_token_form(request, self.settings.token_max_body_bytes, headers)
            creds = extract_credentials(headers.authorization, form, self.federation.trusts)
            method = creds.method
            grant_type = form.get("grant_type")
            if grant_type is None:
                raise invalid_request("grant_type is required")
            if grant_type != GRANT_TYPE:
                raise OAuthError("unsupported_grant_type", f"only {GRANT_TYPE} is supported")
            facts: dict[str, str] = {}
            client = await self.authenticator.authenticate(creds, source, facts)
            grant = grant_for(client, form, self.settings.token_lifetime_seconds,
                              self.settings.max_token_lifetime_seconds)
            claims = grant.claims(self.settings.issuer_url, int(time.time()))
            token, key = await self._sign(claims, client.client_id)
        except OAuthError as exc:
            audit.token_refused(exc, method, source)
            request.app.state.metrics.token_refused(exc.error, method, time.perf_counter() - started)
            return exc.response()
        audit.token_issued(grant, claims, key.kid, creds.method, source, facts)
        request.app.state.metrics.token_issued(key.alg.name, creds.method,
                                               time.perf_counter() - started)
        return OAuthJSONResponse({"access_token": token, "token_type": "Bearer",
                                  "expires_in": grant.lifetime, "scope": grant.scope},
                                 headers=NO_STORE)

    async def _sign(self, claims: dict[str, object], client_id: str) -> tuple[str, PublishedKey]:
        try:
            return await self.signer.sign_with_key(claims)
        except KeyBackendError as exc:
            log.error("signing failed", extra={"fields": {"reason": str(exc), "client_id": client_id}})
            raise try_later("the signing key is unreachable; retry later",
                            SIGNING_RETRY_AFTER_SECONDS) from None


@router.post(TOKEN_PATH, tags=["token"], summary="Client credentials grant: an RFC 9068 access token",
             responses=TOKEN_RESPONSES, openapi_extra=TOKEN_REQUEST)
async def token(request: Request) -> Response:
    endpoint: TokenEndpoint = request.app.state.token_endpoint
    return await endpoint.handle(request)


@router.api_route(TOKEN_PATH, methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"],
                  include_in_schema=False)
async def wrong_method(request: Request) -> Response:
    error = invalid_request(f"{request.method} is not allowed; POST a form", status=405)
    error.headers["Allow"] = "POST"
    return error.response()
