"""private_key_jwt assertions (RFC 7523 section 3), table-driven and in process: one client
with an ES256 key, assertions made here with PyJWT, each varied in one way from a good one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.token.assertions import FAILED, AssertionRejected, replay_ttl, verify_assertion
from app.token.registry import Client, ClientKey
from app.token.replay import ReplayCache
from signet.algorithms import ALGORITHMS

TOKEN_ENDPOINT = "https://issuer.example/token"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CLIENT = Client("svc", ("read",), ("read",), ("api://x",),
                keys=(ClientKey(KEY.public_key(), ALGORITHMS["ES256"], "k1"),))


def assertion(now: int, claims: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
              key: Any = KEY, alg: str = "ES256", headers: dict[str, Any] | None = None) -> str:
    """Made when the test runs, at `now`: PyJWT checks exp and iat against the real clock."""
    body = {"iss": "svc", "sub": "svc", "aud": TOKEN_ENDPOINT, "exp": now + 60, "iat": now,
            "jti": uuid.uuid4().hex, **(claims or {})}
    for name in drop:
        body.pop(name)
    return jwt.encode(body, key, algorithm=alg, headers={"kid": "k1", **(headers or {})})


async def check(token: str, now: int, replay: ReplayCache | None = None) -> None:
    await verify_assertion(token, CLIENT, audiences=[TOKEN_ENDPOINT], max_lifetime=300,
                           replay=replay or ReplayCache(), clock=lambda: now)


async def test_a_good_assertion_is_accepted_once() -> None:
    replay, now = ReplayCache(), int(time.time())
    token = assertion(now)
    await check(token, now, replay)
    with pytest.raises(AssertionRejected, match="replay"):
        await check(token, now, replay)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda now: assertion(now, key=OTHER_KEY), FAILED),  # not the registered key
    (lambda now: assertion(now, key=RSA_KEY, alg="RS256"), FAILED),  # an algorithm the key is not bound to
    (lambda now: assertion(now, headers={"kid": "unknown"}), FAILED),
    (lambda now: "not.a.jws", "not a JWS"),
    (lambda now: assertion(now, claims={"aud": "https://elsewhere/token"}), "Audience doesn't match"),
    (lambda now: assertion(now, claims={"iss": "other"}), "Invalid issuer"),
    (lambda now: assertion(now, claims={"sub": "other"}), "sub must equal the client_id"),
    (lambda now: assertion(now, claims={"exp": now - 31}), "Signature has expired"),  # past the 30 s leeway
    (lambda now: assertion(now, claims={"exp": now + 3600}), "more than 300 s ahead"),
    (lambda now: assertion(now, drop=("jti",)), 'Token is missing the "jti" claim'),
    (lambda now: assertion(now, drop=("exp",)), 'Token is missing the "exp" claim'),
    (lambda now: assertion(now, claims={"jti": "x" * 257}), "jti must be a string of 1-256"),
    (lambda now: assertion(now, claims={"jti": 7}), "JWT ID must be a string"),
    (lambda now: assertion(now, claims={"exp": str(now + 60)}), "exp must be a number"),
    # True is 1 to PyJWT: long past
    (lambda now: assertion(now, claims={"exp": True}), "Signature has expired"),
    (lambda now: assertion(now, claims={"aud": [TOKEN_ENDPOINT, 5]}), "Invalid claim format"),
    (lambda now: assertion(now, headers={"typ": "at+jwt"}), "an access token is not a client assertion"),
])
async def test_an_assertion_changed_in_one_way_is_refused_with_its_reason(
        make: Callable[[int], str], reason: str) -> None:
    now = int(time.time())
    with pytest.raises(AssertionRejected) as raised:
        await check(make(now), now)
    assert reason in str(raised.value)


T0 = 1_800_000_000  # replay_ttl is pure arithmetic: any instant will do


@pytest.mark.parametrize(("exp", "now", "ttl"), [
    (T0 + 60, T0, 91), (T0 + 60.5, T0, 92), (T0, T0 + 29.2, 2), (T0 - 29, T0, 2),
])
def test_the_jti_record_outlives_the_last_instant_the_assertion_is_accepted(
        exp: float, now: float, ttl: int) -> None:
    assert replay_ttl(exp, now) == ttl
    assert now + replay_ttl(exp, now) > exp + 30  # accepted until exp + leeway


def test_assertions_made_now_are_signed_as_the_tests_expect() -> None:
    """A sanity check on the table's own maker: PyJWT reads back what it signed."""
    claims = jwt.decode(assertion(int(time.time())), KEY.public_key(), algorithms=["ES256"],
                        audience=TOKEN_ENDPOINT, options={"verify_exp": False})
    assert claims["sub"] == "svc" and claims["exp"] - claims["iat"] == 60
