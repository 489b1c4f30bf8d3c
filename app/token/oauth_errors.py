"""RFC 6749 section 5.2 error responses: JSON `error` + `error_description`, never cached."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Starlette's JSONResponse calls json.dumps with these options, which builds an encoder on
# every call; one built here gives the same bytes (tests/unit/test_token_body.py).
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class OAuthJSONResponse(JSONResponse):
    """JSONResponse, rendered by one encoder built once: every /token answer is one."""

    def render(self, content: Any) -> bytes:
        return _JSON.encode(content).encode("utf-8")


BASIC_CHALLENGE = 'Basic realm="signet", charset="UTF-8"'


class OAuthError(Exception):
    """A refusal the client can act on; `client_id` is set once the client is known (for audit)."""

    def __init__(self, error: str, description: str, status: int = 400,
                 headers: dict[str, str] | None = None, client_id: str | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}
        self.client_id = client_id
        self.detail: str | None = None  # for the audit line only, never for the caller

    def response(self) -> JSONResponse:
        return OAuthJSONResponse({"error": self.error, "error_description": self.description},
                                 status_code=self.status, headers={**NO_STORE, **self.headers})


def invalid_request(description: str, status: int = 400) -> OAuthError:
    return OAuthError("invalid_request", description, status)


def invalid_client(description: str, client_id: str | None = None) -> OAuthError:
    """401 with a Basic challenge: RFC 6749 requires it when Basic was used, and RFC 9110
    section 15.5.2 requires a WWW-Authenticate on every 401."""
    return OAuthError("invalid_client", description, 401, {"WWW-Authenticate": BASIC_CHALLENGE},
                      client_id)


def try_later(description: str, retry_after: int, status: int = 503) -> OAuthError:
    """Throttled (429) or signing key unreachable (503): the client should retry later."""
    return OAuthError("temporarily_unavailable", description, status,
                      {"Retry-After": str(retry_after)})


async def _respond(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


def install_error_handler(app: FastAPI) -> None:
    """Any route may raise OAuthError; it becomes the same JSON error shape everywhere."""
    app.add_exception_handler(OAuthError, _respond)
