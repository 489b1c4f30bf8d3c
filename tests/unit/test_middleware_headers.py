"""The middleware reads Authorization from the raw ASGI header list (no Headers object) and
the usual `Bearer <token>` straight from the bytes: it must answer exactly as reading the
decoded header with `bearer_token` would, for missing, duplicate, malformed and odd-case
headers. Driven as a plain ASGI callable with hand-built scopes (duplicate and non-ASCII
header bytes, as a server may pass them)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signet.verifier import SignetAuthMiddleware, Verifier
from signet.verifier.bearer import bearer_token, header_token
from tests.support.verifier_tokens import AUDIENCE, access_claims, open_key, sign_claims

ISSUER = "https://issuer.headers.test"


@given(st.binary(max_size=40) | st.builds(lambda scheme, rest: scheme + rest,
                                          st.sampled_from([b"Bearer ", b"bearer ", b"BEARER ", b"Bearer",
                                                           b" Bearer ", b"Basic ", b"Bearer\t"]),
                                          st.binary(max_size=20)))
def test_header_token_reads_raw_bytes_as_bearer_token_reads_the_decoded_value(value: bytes) -> None:
    assert header_token(value) == bearer_token(value.decode("latin-1"))


@pytest.fixture(scope="module")
def token_and_verifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Verifier]:
    key = asyncio.run(open_key(tmp_path_factory.mktemp("keys")))
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url="http://127.0.0.1:9/jwks")
    verifier.load_jwks(ISSUER, json.dumps({"keys": [key.published.jwk]}))
    token = sign_claims(key, access_claims(ISSUER))
    return token, verifier


def call(verifier: Verifier, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any], Any]:
    """Status, response headers and body (or the claims the app saw) for one request."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["claims"] = scope["state"]["claims"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    middleware = SignetAuthMiddleware(app, verifier, manage_lifespan=False)
    scope = {"type": "http", "path": "/x", "headers": headers}
    asyncio.run(middleware(scope, receive, send))
    status = sent[0]["status"]
    answer = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body = seen.get("claims") if status == 200 else json.loads(sent[1]["body"])
    return status, answer, body


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER", b"bEaReR"])
def test_the_scheme_is_case_insensitive(token_and_verifier: tuple[str, Verifier], scheme: bytes) -> None:
    token, verifier = token_and_verifier
    status, _, claims = call(verifier, [(b"host", b"x"), (b"authorization", scheme + b" " + token.encode())])
    assert status == 200 and claims["iss"] == ISSUER


@pytest.mark.parametrize("value", [b"Bearer  {t}  ", b" Bearer {t}", b"bearer {t} "])
def test_spaces_around_the_token_are_ignored(token_and_verifier: tuple[str, Verifier], value: bytes) -> None:
    token, verifier = token_and_verifier
    status, _, _ = call(verifier, [(b"authorization", value.replace(b"{t}", token.encode()))])
    assert status == 200


@pytest.mark.parametrize("headers", [[], [(b"host", b"x")], [(b"authorization", b"Basic YTpi")],
                                     [(b"authorization", b"")], [(b"authorization", b"Bearertoken")],
                                     [(b"x-authorization", b"Bearer abc")]])
def test_no_bearer_credentials_is_401_without_an_error_code(
        token_and_verifier: tuple[str, Verifier], headers: list[tuple[bytes, bytes]]) -> None:
    status, answer, body = call(token_and_verifier[1], headers)
    assert status == 401 and answer["www-authenticate"] == "Bearer"
    assert body["error"] == "unauthorized"


def test_several_authorization_headers_are_refused_even_when_one_is_valid(
        token_and_verifier: tuple[str, Verifier]) -> None:
    token, verifier = token_and_verifier
    good = (b"authorization", b"Bearer " + token.encode())
    for headers in ([good, good], [good, (b"authorization", b"Basic YTpi")],
                    [(b"authorization", b""), good]):
        status, answer, body = call(verifier, headers)
        assert status == 401 and body["code"] == "malformed", headers
        assert 'error="invalid_token"' in answer["www-authenticate"]


@pytest.mark.parametrize("value", [b"Bearer", b"Bearer ", b"Bearer a.b", b"Bearer \xff\xfe.x.y",
                                   b"Bearer a b c"])
def test_a_malformed_bearer_token_is_invalid_token(token_and_verifier: tuple[str, Verifier],
                                                   value: bytes) -> None:
    status, answer, body = call(token_and_verifier[1], [(b"authorization", value)])
    assert status == 401 and body["error"] == "invalid_token"
    assert 'error="invalid_token"' in answer["www-authenticate"]
