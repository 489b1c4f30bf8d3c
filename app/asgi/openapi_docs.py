"""What the issuer's OpenAPI document says beyond FastAPI's defaults: the error responses
each route really sends, the token request form, and the media types of the pages.

Routes read their input from the raw request (the token form is parsed strictly by
app/token/form.py), so FastAPI cannot infer these; tests/integration/test_fuzz_openapi.py holds the issuer
to what is written here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    """RFC 6749 section 5.2 error: the one error shape of every issuer route."""

    model_config = ConfigDict(extra="forbid")
    error: str
    error_description: str


class TokenResponse(BaseModel):
    """RFC 6749 section 5.1 access token response (RFC 9068 JWT in access_token)."""

    model_config = ConfigDict(extra="forbid")
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


_WHY = {
    400: "Invalid request, grant, scope or target (RFC 6749 section 5.2)",
    401: "Missing or failed authentication",
    404: "Not found, or the admin API is off (SIGNET_ADMIN_TOKEN unset)",
    405: "Method not allowed",
    409: "Refused: a fixed key (it does not rotate), a key already pending, or a key already retired",
    413: "Request body larger than SIGNET_TOKEN_MAX_BODY_BYTES",
    414: "Request target longer than 8 KiB",
    429: "Throttled after failed authentications (Retry-After)",
    431: "Request headers larger than SIGNET_MAX_HEADER_BYTES",
    503: "The signing key cannot be reached (Retry-After)",
}

Responses = dict[int | str, dict[str, Any]]


def errors(*statuses: int) -> Responses:
    """OpenAPI `responses` entries for these statuses, each with the ErrorBody shape."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


# The request-size guard (app/asgi/request_limits.py) may answer any route with these.
REQUEST_LIMITS = errors(413, 414, 431)

NOT_MODIFIED: Responses = {304: {"description": "Not modified (If-None-Match matched the ETag)"}}
HTML: Responses = {200: {"content": {"text/html": {"schema": {"type": "string"}}},
                         "description": "The page"}}

_FORM_FIELDS = ("scope", "audience", "resource", "client_id", "client_secret",
                "client_assertion_type", "client_assertion")
TOKEN_REQUEST: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "required": ["grant_type"],
        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                       **{name: {"type": "string"} for name in _FORM_FIELDS}},
        # Unknown parameters are ignored (RFC 6749 section 3.2); none may repeat but `resource`.
        "additionalProperties": {"type": "string"},
    }}}}}
TOKEN_RESPONSES: Responses = {200: {"model": TokenResponse, "description": "An access token"},
                              **errors(400, 401, 429, 503)}
ADMIN_RESPONSES = errors(401, 404, 409)
