"""FastAPI dependencies: `require_token()` and `require_scopes("a", "b")`.

This module imports FastAPI; `signet.verifier` itself does not. With
SignetAuthMiddleware in front, the dependencies read the claims it stored; without it,
pass `verifier=` and they verify the bearer token themselves.

Their 401 and 403 answers have the middleware's flat body (`{"error", "error_description",
"code"}`) once `install_error_handler(app)` has run: a dependency can only raise, and FastAPI's
own handler would wrap the body as `{"detail": ...}`, which is what it gives without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.responses import Response

from signet.verifier.bearer import bearer_token, error_response, missing_token_response
from signet.verifier.claims import Claims
from signet.verifier.errors import InsufficientScope, SignetError
from signet.verifier.middleware import STATE_KEY
from signet.verifier.verifier import Verifier


class BearerRefusal(HTTPException):
    """A 401 or 403 of the dependencies, carrying the exact body the middleware would send."""

    def __init__(self, response: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, body = response
        super().__init__(status, detail=msgspec.json.decode(body), headers=headers)
        self.body = body


async def bearer_refusal_handler(request: Request, exc: Exception) -> Response:
    """Answer a BearerRefusal with the flat body and its RFC 6750 headers."""
    assert isinstance(exc, BearerRefusal)
    return Response(exc.body, status_code=exc.status_code, headers=exc.headers,
                    media_type="application/json")


def install_error_handler(app: FastAPI) -> None:
    """Make the dependencies' 401 and 403 bodies the middleware's flat shape (call before start)."""
    app.add_exception_handler(BearerRefusal, bearer_refusal_handler)


def _http_error(response: tuple[int, dict[str, str], bytes]) -> HTTPException:
    return BearerRefusal(response)


def require_token(verifier: Verifier | None = None) -> Callable[[Request], Awaitable[Claims]]:
    """A dependency giving the verified Claims of the request, or answering 401.

    Given a verifier, it always verifies with that verifier (its token cache makes a repeat
    cheap): claims the middleware stored were checked against the middleware's audiences
    and issuers, which may be wider than this route's."""

    async def verified_claims(request: Request) -> Claims:
        state = request.scope.setdefault("state", {})
        if verifier is None:
            claims = state.get(STATE_KEY)
            if isinstance(claims, Claims):
                return claims
            raise _http_error(missing_token_response())
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise _http_error(missing_token_response())
        try:
            claims = await verifier.verify(token)
        except SignetError as exc:
            raise _http_error(error_response(exc)) from None
        state.setdefault(STATE_KEY, claims)
        return claims

    return verified_claims


def require_scopes(*scopes: str, verifier: Verifier | None = None) -> Callable[..., Awaitable[Claims]]:
    """A dependency requiring every listed scope (RFC 6750 403 `insufficient_scope` otherwise)."""
    needed = frozenset(scopes)
    token_dependency = require_token(verifier)

    async def scoped_claims(claims: Claims = Depends(token_dependency)) -> Claims:  # noqa: B008
        if not needed <= claims.scopes:
            raise _http_error(error_response(InsufficientScope(), scope=" ".join(sorted(needed))))
        return claims

    return scoped_claims
