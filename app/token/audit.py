"""The audit trail: one JSON line per issued token and per refused token request.

Facts only: never a secret, an assertion or a token (the jti identifies a token).
Always logged at info, whatever SIGNET_LOG_LEVEL says.
"""

from __future__ import annotations

import logging

from ..telemetry.logs import log_fields
from .grants import Grant
from .oauth_errors import OAuthError

log = logging.getLogger("signet.audit")
log.setLevel(logging.INFO)


def token_issued(grant: Grant, claims: dict[str, object], kid: str, method: str, source: str,
                 facts: dict[str, str] | None = None) -> None:
    """`facts`: what the authentication adds (a federated client's issuer and subject)."""
    log_fields(log, logging.INFO, "token issued", {
        "event": "token_issued", "client_id": grant.client_id, "jti": claims["jti"], "kid": kid,
        "scopes": list(grant.scopes), "audience": grant.audience, "exp": claims["exp"],
        "auth_method": method, "source": source, **(facts or {})})


def token_refused(error: OAuthError, method: str | None, source: str) -> None:
    log_fields(log, logging.INFO, "token refused", {
        "event": "token_refused", "reason": error.error, "description": error.description,
        "status": error.status, "client_id": error.client_id, "auth_method": method,
        "source": source, **({"detail": error.detail} if error.detail else {})})
