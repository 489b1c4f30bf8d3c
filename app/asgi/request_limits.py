"""Size limits on every issuer request, before any route sees it (pure ASGI).

An auth service is the first thing attacked; no request should cost it more memory than
the largest legitimate one. Whatever ASGI server runs the app, this guard answers:

- 414 when the request target (path and query) is longer than MAX_TARGET_BYTES;
- 431 when the header names and values add up to more than SIGNET_MAX_HEADER_BYTES;
- 413 when the body is larger than SIGNET_TOKEN_MAX_BODY_BYTES (only POST /token takes a
  body): a larger Content-Length is refused unread, a longer stream is cut where it passes.

Refusals have the issuer's one error shape (RFC 6749 section 5.2 JSON, never cached) and
close the connection. The server has already parsed the header block when this runs, and
uvicorn's default parser (httptools) puts no bound on it: a hard bound before parsing
belongs to the proxy in front (docs/threat-model.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..token.oauth_errors import invalid_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_TARGET_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Limits:
    header_bytes: int
    body_bytes: int
    target_bytes: int = MAX_TARGET_BYTES


class _BodyTooLarge(Exception):
    """Raised from receive() when a streamed body passes the limit."""


class RequestLimits:
    """Refuses oversized requests; `limits` is called per request (settings load at start-up)."""

    def __init__(self, app: ASGIApp, limits: Callable[[], Limits]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits()
        refusal = _check_head(scope, limits)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limits.body_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except _BodyTooLarge:
            if started:  # the route answered before reading all of it: nothing more to say
                return
            await _refuse(send, 413, f"request body larger than {limits.body_bytes} bytes")


def _check_head(scope: Scope, limits: Limits) -> tuple[int, str] | None:
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
    if target > limits.target_bytes:
        return 414, f"request target longer than {limits.target_bytes} bytes"
    headers = scope["headers"]
    if sum(len(name) + len(value) for name, value in headers) > limits.header_bytes:
        return 431, f"request headers larger than {limits.header_bytes} bytes"
    for name, value in headers:
        if name == b"content-length":
            if value.isdigit() and int(value) > limits.body_bytes:
                return 413, f"request body larger than {limits.body_bytes} bytes"
            break
    return None


async def _refuse(send: Send, status: int, description: str) -> None:
    response = invalid_request(description, status).response()
    headers = [*response.raw_headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
