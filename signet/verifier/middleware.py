"""`SignetAuthMiddleware`: pure ASGI, so it adds one `await` to a request and no framework.

Verified claims go to `scope["state"]["claims"]` (Starlette/FastAPI: `request.state.claims`).
A refused request gets RFC 6750 answers (see bearer.py). On `lifespan` start-up it warms
the verifier's key cache before the server reports ready, and closes it on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from signet.verifier.bearer import error_response, header_token, missing_token_response
from signet.verifier.errors import MalformedToken, SignetError
from signet.verifier.lazy import LazyVerifier
from signet.verifier.verifier import Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("signet.verifier")
STATE_KEY = "claims"


class SignetAuthMiddleware:
    """Require a valid bearer token on every HTTP and WebSocket request but excluded paths.

    `verifier` may be a Verifier or a function returning one (for apps that build it
    from settings at start-up). `exclude_paths`: exact paths, or prefixes ending in "/".
    """

    def __init__(self, app: ASGIApp, verifier: Verifier | Callable[[], Verifier], *,
                 exclude_paths: Iterable[str] = (), realm: str | None = None,
                 manage_lifespan: bool = True) -> None:
        self.app = app
        self._verifier = LazyVerifier(verifier)
        paths = list(exclude_paths)
        self._exact = frozenset(p for p in paths if not p.endswith("/"))
        self._prefixes = tuple(p for p in paths if p.endswith("/"))
        self._realm = realm
        self._manage_lifespan = manage_lifespan

    @property
    def verifier(self) -> Verifier:
        return self._verifier.get()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        if kind not in ("http", "websocket") or path in self._exact or (
                self._prefixes and path.startswith(self._prefixes)):
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", ()):  # raw (lower-cased) names: no Headers object
            if name == b"authorization":
                if authorization is not None:
                    await self._refuse(scope, send, error_response(
                        MalformedToken("several Authorization headers"), self._realm))
                    return
                authorization = value
        token = header_token(authorization) if authorization is not None else None
        if token is None:
            await self._refuse(scope, send, missing_token_response(self._realm))
            return
        try:
            claims = await self.verifier.verify(token)
        except SignetError as exc:
            log.info("token refused", extra={"fields": {"code": exc.code, "path": path[:200]}})
            await self._refuse(scope, send, error_response(exc, self._realm))
            return
        scope.setdefault("state", {})[STATE_KEY] = claims
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send,
                      response: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, body = response
        if scope["type"] == "websocket":
            # Closing before accept makes the server refuse the handshake (HTTP 403).
            await send({"type": "websocket.close", "code": 1008})
            return
        raw_headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._manage_lifespan:
            await self.app(scope, receive, send)
            return

        async def send_after_hooks(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    await self.verifier.start()
                except Exception:  # the service may start; requests get 503 until keys come
                    log.exception("verifier warm-up failed")
            elif message["type"] == "lifespan.shutdown.complete":
                built = self._verifier.built
                if built is not None:
                    await built.aclose()
            await send(message)

        await self.app(scope, receive, send_after_hooks)
