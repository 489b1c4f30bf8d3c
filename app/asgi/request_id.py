"""Request ids: one per HTTP request, echoed in `X-Request-ID` and in every log line.

An incoming `X-Request-ID` (from a proxy or the caller) is kept when it is short and made
of safe characters, so one id follows a request across services; anything else is
replaced by a fresh one (never reflected: it would end up in logs and headers). The id
lives in a contextvar, which app.telemetry.logs adds to each line emitted while serving the request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

HEADER = "x-request-id"
_HEADER_BYTES = HEADER.encode()  # ASGI header names are lower-case bytes
MAX_LENGTH = 128
_SAFE = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_LENGTH}}}")

current_request_id: ContextVar[str | None] = ContextVar("signet_request_id", default=None)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_request_id() -> str:
    """128 random bits, URL-safe: unique without coordination between replicas."""
    return secrets.token_hex(16)


def accepted_request_id(raw: bytes | None) -> str | None:
    """The caller's id if it is safe to log and echo, else None."""
    if raw is None:
        return None
    try:
        value = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return value if _SAFE.fullmatch(value) else None


class RequestIdMiddleware:
    """Pure ASGI: sets the id for the request's context and adds it to the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = [v for k, v in scope.get("headers", ()) if k == _HEADER_BYTES]
        request_id = (accepted_request_id(incoming[0]) if len(incoming) == 1 else None) or new_request_id()
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER_BYTES]
                headers.append((_HEADER_BYTES, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
