"""Property-based tests of the token parser and the Verifier: whatever the input, the answer
is valid claims or a SignetError subclass, never another exception and never a hang.

The Verifier's keys come from a real JWKS endpoint (uvicorn on loopback), so a token naming
an unknown kid takes the real refetch path. Budgets: tests/support/fuzzing.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from signet.algorithms import ALGORITHMS
from signet.jose import b64url_decode, b64url_encode
from signet.keys.local import LocalSigningKey
from signet.verifier import Claims, SignetError, Verifier
from signet.verifier.token import decode_object, parse_header, split
from tests.support import fuzzing  # noqa: F401  (registers and loads the hypothesis profile)
from tests.support.processes import ThreadServer
from tests.support.verifier_tokens import AUDIENCE, access_claims, make_token, open_key

ISSUER = "https://issuer.fuzz.test"
NOW = 1_800_000_000.0
MAX_TOKEN = 8192

# JSON values as a token would carry them: bounded depth and size.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children,
                                                                      max_size=5),
    max_leaves=20)
claim_names = st.sampled_from(["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope"])
header_names = st.sampled_from(["alg", "kid", "typ", "crit", "jku", "x5u", "jwk", "x5c", "b64", "cty"])


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> LocalSigningKey:
    return asyncio.run(open_key(tmp_path_factory.mktemp("fuzz-keys")))


@pytest.fixture(scope="module")
def verifier(key: LocalSigningKey) -> Iterator[Verifier]:
    body = json.dumps({"keys": [key.published.jwk]}).encode()

    async def jwks(request: Any) -> Response:
        return Response(body, media_type="application/json")

    with ThreadServer(Starlette(routes=[Route("/jwks", jwks)])) as url:
        verifier = Verifier(ISSUER, AUDIENCE, jwks_url=url + "/jwks", clock=lambda: NOW,
                            max_token_bytes=MAX_TOKEN)
        verifier.load_jwks(ISSUER, body)
        yield verifier
        verifier.close()


@pytest.fixture(scope="module")
def valid_token(key: LocalSigningKey) -> str:
    claims = access_claims(ISSUER, iat=int(NOW), nbf=int(NOW), exp=int(NOW) + 300)
    return make_token(key, claims)


def outcome(verifier: Verifier, token: Any) -> Claims | SignetError:
    """Claims or the SignetError raised; any other exception fails the test."""
    try:
        return verifier.verify_sync(token)
    except SignetError as exc:
        return exc


def assert_acceptable(claims: Claims) -> None:
    """Whatever the verifier accepts meets RFC 9068 for this issuer and audience at NOW."""
    assert claims["iss"] == ISSUER
    assert AUDIENCE in claims.audiences
    assert claims["exp"] + 30 > NOW
    for name in ("sub", "client_id", "jti"):
        assert type(claims[name]) is str


# -- the parser -----------------------------------------------------------------------------

@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), st.integers(), st.none()))
def test_split_is_total(value: Any) -> None:
    try:
        signed, header, payload, signature = split(value)
    except SignetError:
        return
    assert signed == header + b"." + payload and value == f"{signed.decode()}.{signature.decode()}"


@given(st.binary(max_size=400))
def test_segment_decoding_is_total(segment: bytes) -> None:
    try:
        decoded = decode_object(segment, "header")
    except SignetError:
        return
    assert type(decoded) is dict
    assert b64url_encode(b64url_decode(segment)).encode() == segment  # only canonical base64url


@given(st.dictionaries(header_names, json_values, max_size=6))
def test_header_validation_is_total(header: dict[str, Any]) -> None:
    segment = b64url_encode(json.dumps(header).encode()).encode()
    try:
        parsed = parse_header(segment, ALGORITHMS)
    except SignetError:
        return
    assert parsed.alg.name == header["alg"] and parsed.kid == header["kid"]
    assert not {"crit", "jku", "x5u", "jwk", "x5c", "b64"} & set(header)


# -- the Verifier -----------------------------------------------------------------------------

@given(st.text(max_size=MAX_TOKEN + 10))
def test_arbitrary_text_is_refused(verifier: Verifier, text: str) -> None:
    assert isinstance(outcome(verifier, text), SignetError)


@given(st.lists(st.binary(max_size=120).map(b64url_encode), min_size=3, max_size=3))
def test_arbitrary_segments_are_refused(verifier: Verifier, segments: list[str]) -> None:
    """Three well-formed base64url segments of random bytes: refused, whatever they decode to."""
    assert isinstance(outcome(verifier, ".".join(segments)), SignetError)


@st.composite
def mutations(draw: st.DrawFn, token_length: int) -> list[tuple[str, int, str]]:
    kinds = st.sampled_from(["replace", "insert", "delete"])
    return draw(st.lists(st.tuples(kinds, st.integers(0, token_length - 1),
                                   st.sampled_from("AQgw09-_.=+/ \x00é{}\"")), min_size=1, max_size=6))


def mutate(token: str, edits: list[tuple[str, int, str]]) -> str:
    chars = list(token)
    for kind, position, char in edits:
        position = min(position, len(chars) - 1) if chars else 0
        if kind == "replace" and chars:
            chars[position] = char
        elif kind == "insert":
            chars.insert(position, char)
        elif chars:
            del chars[position]
    return "".join(chars)


@given(data=st.data())
def test_mutated_real_tokens_never_verify_with_other_content(verifier: Verifier, valid_token: str,
                                                            data: st.DataObject) -> None:
    """A mutated token is refused, unless its header and payload are the original's (a change
    confined to the signature that still verifies, which canonical base64url rules out)."""
    edits = data.draw(mutations(len(valid_token)))
    token = mutate(valid_token, edits)
    assume(token != valid_token)
    result = outcome(verifier, token)
    if isinstance(result, Claims):
        assert token.rsplit(".", 1)[0] == valid_token.rsplit(".", 1)[0]
        assert_acceptable(result)


@given(claims=st.dictionaries(claim_names, json_values, max_size=9),
       header=st.dictionaries(header_names, json_values, max_size=4))
def test_signed_tokens_with_arbitrary_content(verifier: Verifier, key: LocalSigningKey,
                                              claims: dict[str, Any], header: dict[str, Any]) -> None:
    """Correctly signed by the trusted key, with arbitrary header members and claims: whatever
    is accepted meets RFC 9068; everything else is a SignetError."""
    base = access_claims(ISSUER, iat=int(NOW), nbf=int(NOW), exp=int(NOW) + 300)
    full_header = {"alg": key.published.alg.name, "kid": key.published.kid, "typ": "at+jwt", **header}
    try:
        token = make_token(key, {**base, **claims}, header=full_header, alg=key.published.alg)
    except (TypeError, ValueError):  # json.dumps of an integer too large etc.: not a token
        return
    result = outcome(verifier, token)
    if isinstance(result, Claims):
        assert_acceptable(result)
        assert full_header["alg"] == key.published.alg.name and full_header["kid"] == key.published.kid
