"""One route answered past FastAPI's router: the issuer's two hot paths (`POST /token` and
`GET /.well-known/jwks.json`).

Why: FastAPI's route matching (every route is tried in turn), dependency solving and
request telemetry cost about as much as the token endpoint's own work, and more than
building the JWKS response (see bench/). The FastAPI routes stay: they document the
endpoints (OpenAPI), answer every other method, and answer if this middleware is not
installed. The handler is the route's own function, so both paths give the same answer
(tests/integration/test_direct_jwks.py compares them byte for byte).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoute:
    """Pure ASGI: `method` on `path` goes straight to `handler`; everything else passes."""

    def __init__(self, app: ASGIApp, method: str, path: str,
                 handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == self.method and _route_path(scope) == self.path:
            response = await self.handler(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path as the router matches it: without the root path the app is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
