"""The token request body: size-limited, `application/x-www-form-urlencoded`, strictly parsed.

RFC 6749 section 3.2: parameters appear at most once (RFC 8707 `resource` excepted),
and a parameter sent without a value is treated as omitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from .oauth_errors import OAuthError, invalid_request

FORM_TYPE = "application/x-www-form-urlencoded"
REPEATABLE = frozenset({"resource"})
MAX_FIELDS = 32


@dataclass(frozen=True, slots=True)
class TokenForm:
    values: dict[str, tuple[str, ...]]

    def get(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None

    def all(self, name: str) -> tuple[str, ...]:
        return self.values.get(name, ())

    def __contains__(self, name: str) -> bool:
        return name in self.values


def too_large(limit: int) -> OAuthError:
    return invalid_request(f"request body larger than {limit} bytes", status=413)


@dataclass(frozen=True, slots=True)
class TokenHeaders:
    """The three request headers /token reads, each its first occurrence (as Starlette's
    `Headers.get` gives it), found in one pass over the raw ASGI list: building a `Headers`
    and searching it once per name cost several microseconds per token."""

    content_type: str | None = None
    content_length: str | None = None
    authorization: str | None = None


_WANTED = frozenset({b"content-type", b"content-length", b"authorization"})


def token_headers(raw: Iterable[tuple[bytes, bytes]]) -> TokenHeaders:
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return TokenHeaders(found.get(b"content-type"), found.get(b"content-length"),
                        found.get(b"authorization"))


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """At most `limit` bytes: a larger Content-Length is refused unread, a longer stream is cut.

    Reads the ASGI messages itself, as Starlette's `request.stream()` does (a disconnect is
    `ClientDisconnect`), without its async generator: one message is the usual body."""
    if declared is not None:
        if not declared.isdigit():
            raise invalid_request("invalid Content-Length")
        if int(declared) > limit:
            raise too_large(limit)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_form(content_type: str | None, body: bytes) -> TokenForm:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE:
        raise invalid_request(f"Content-Type must be {FORM_TYPE} (RFC 6749 section 3.2)")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=MAX_FIELDS, errors="strict")
    except ValueError:  # includes UnicodeDecodeError (non-UTF-8 percent escapes)
        raise invalid_request("malformed form body") from None
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in values and name not in REPEATABLE:
            raise invalid_request(f"parameter {name!r} appears more than once")
        values.setdefault(name, []).append(value)
    return TokenForm({name: tuple(v for v in vals if v) for name, vals in values.items()
                      if any(vals)})


async def read_token_form(request: Request, limit: int,
                          headers: TokenHeaders | None = None) -> TokenForm:
    if request.scope.get("query_string"):  # not request.url: building a URL costs more than the check
        raise invalid_request("token request parameters belong in the form body, not the URL")
    if headers is None:
        headers = token_headers(request.scope["headers"])
    return parse_form(headers.content_type,
                      await read_body(request.receive, headers.content_length, limit))
