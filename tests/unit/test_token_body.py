"""The token request read past Starlette's Request: the body from the ASGI messages (size
limits, chunks, disconnect), the three headers from the raw list (first occurrence, as
Starlette's Headers.get), and the JSON answer's bytes (the same as Starlette's JSONResponse)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse

from app.asgi.startup import remembered
from app.token.form import read_body, token_headers
from app.token.oauth_errors import OAuthError, OAuthJSONResponse


def messages(*items: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    queue = list(items)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def chunk(body: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


@pytest.mark.parametrize(("received", "expected"), [
    ([chunk(b"grant_type=client_credentials")], b"grant_type=client_credentials"),
    ([chunk(b"grant_type=", True), chunk(b"client_", True), chunk(b"credentials")],
     b"grant_type=client_credentials"),
    ([chunk(b"")], b""),
    ([{"type": "http.request"}], b""),  # body and more_body are optional in ASGI
])
def test_the_body_is_every_chunk_joined(received: list[dict[str, Any]], expected: bytes) -> None:
    assert asyncio.run(read_body(messages(*received), None, 64)) == expected


@pytest.mark.parametrize(("declared", "received", "status", "reason"), [
    ("65", [chunk(b"x")], 413, "larger than 64 bytes"),  # refused unread
    ("12a", [chunk(b"x")], 400, "invalid Content-Length"),
    ("-1", [chunk(b"x")], 400, "invalid Content-Length"),
    (None, [chunk(b"x" * 65)], 413, "larger than 64 bytes"),
    ("10", [chunk(b"x" * 40, True), chunk(b"x" * 40)], 413, "larger than 64 bytes"),  # cut
])
def test_oversized_or_misdeclared_bodies_are_refused(declared: str | None,
                                                     received: list[dict[str, Any]],
                                                     status: int, reason: str) -> None:
    with pytest.raises(OAuthError) as raised:
        asyncio.run(read_body(messages(*received), declared, 64))
    assert (raised.value.error, raised.value.status) == ("invalid_request", status)
    assert reason in raised.value.description


def test_a_disconnect_is_a_client_disconnect_as_in_starlette() -> None:
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(messages(chunk(b"a", True), {"type": "http.disconnect"}), None, 64))


@pytest.mark.parametrize("raw", [
    [],
    [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"29"),
     (b"authorization", b"Basic eDp5")],
    [(b"authorization", b"Basic first"), (b"authorization", b"Basic second"),
     (b"content-type", b"text/plain"), (b"content-type", b"application/json")],
    [(b"x-other", b"1"), (b"authorization", "Basic \u00e9".encode("latin-1"))],
])
def test_headers_are_what_starlette_headers_get_returns(raw: list[tuple[bytes, bytes]]) -> None:
    starlette = Headers(raw=raw)
    found = token_headers(raw)
    assert (found.content_type, found.content_length, found.authorization) == (
        starlette.get("content-type"), starlette.get("content-length"), starlette.get("authorization"))


@pytest.mark.parametrize("content", [
    {"error": "invalid_request", "error_description": "caf\u00e9 \u2603 \"quoted\" \\ </"},
    {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 300, "scope": "read write"},
])
def test_the_json_answer_has_starlettes_bytes(content: dict[str, Any]) -> None:
    ours = OAuthJSONResponse(content, headers={"Cache-Control": "no-store"})
    theirs = JSONResponse(content, headers={"Cache-Control": "no-store"})
    assert (ours.body, ours.raw_headers) == (theirs.body, theirs.raw_headers)


def test_non_finite_numbers_are_refused_as_by_starlette() -> None:
    with pytest.raises(ValueError):
        OAuthJSONResponse({"n": float("nan")})


def test_telemetry_enabled_is_asked_again_only_after_the_recheck_interval() -> None:
    now = [0.0]
    answers = [False, True]
    asked: list[float] = []

    def enabled() -> bool:
        asked.append(now[0])
        return answers[len(asked) - 1]

    cached = remembered(enabled, clock=lambda: now[0], recheck=1.0)
    assert cached() is False
    now[0] = 0.5
    assert cached() is False and asked == [0.0]
    now[0] = 1.0
    assert cached() is True and asked == [0.0, 1.0]
    now[0] = 99.0
    assert cached() is True and asked == [0.0, 1.0]  # a provider once set stays set
