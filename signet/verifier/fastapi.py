"""FastAPI dependencies: `require_token()` and `require_scopes("a", "b")`.

This module imports FastAPI; `signet.verifier` itself does not. With
SignetAuthMiddleware in front, the dependencies read the claims it stored; without it,
pass `verifier=` and they verify the bearer token themselves.

Their 401 and 403 answers have the middleware's flat body (`{"error", "error_description",
"code"}`). A dependency can only raise, and FastAPI's own handler would wrap the body as
`{"detail": ...}`: `install_error_handler(app)` registers the handler that sends it flat, and
an app that did not call it gets that handler at its first refusal (see `_refusal`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.middleware.exceptions import ExceptionMiddleware
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
    """Register the flat-body handler ahead of time (call before start).

    Optional: the dependencies add it at their first refusal when the app has no handler of
    its own for them. Calling it makes the choice explicit, and wins over an app's own
    HTTPException handler for these refusals."""
    app.add_exception_handler(BearerRefusal, bearer_refusal_handler)


def _default_handler(handler: object) -> bool:
    """FastAPI's (or Starlette's) own HTTPException handler, which would wrap or flatten to text."""
    return (handler is http_exception_handler
            or getattr(handler, "__func__", None) is ExceptionMiddleware.http_exception)


def _refusal(request: Request, response: tuple[int, dict[str, str], bytes]) -> HTTPException:
    """The exception to raise, making sure it is answered with the flat body.

    Starlette's ExceptionMiddleware puts its handler table in the scope and looks the
    exception up in it after the route raised. When the handler it would use is only the
    framework default (install_error_handler was not called), this adds the flat one there:
    once per app, and only on a refusal, so an accepted request costs nothing more. A handler
    the app chose itself, for BearerRefusal, HTTPException or the status code, stays in charge.
    """
    refusal = BearerRefusal(response)
    tables = request.scope.get("starlette.exception_handlers")
    if isinstance(tables, tuple) and len(tables) == 2:
        handlers, status_handlers = tables
        if isinstance(handlers, dict) and refusal.status_code not in status_handlers:
            chosen = next((handlers[cls] for cls in BearerRefusal.__mro__ if cls in handlers), None)
            if chosen is None or _default_handler(chosen):
                handlers[BearerRefusal] = bearer_refusal_handler
    return refusal


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
            raise _refusal(request, missing_token_response())
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise _refusal(request, missing_token_response())
        try:
            claims = await verifier.verify(token)
        except SignetError as exc:
            raise _refusal(request, error_response(exc)) from None
        state.setdefault(STATE_KEY, claims)
        return claims

    return verified_claims


def require_scopes(*scopes: str, verifier: Verifier | None = None) -> Callable[..., Awaitable[Claims]]:
    """A dependency requiring every listed scope (RFC 6750 403 `insufficient_scope` otherwise)."""
    needed = frozenset(scopes)
    token_dependency = require_token(verifier)

    async def scoped_claims(request: Request, claims: Claims = Depends(token_dependency)) -> Claims:  # noqa: B008
        if not needed <= claims.scopes:
            raise _refusal(request, error_response(InsufficientScope(), scope=" ".join(sorted(needed))))
        return claims

    return scoped_claims
