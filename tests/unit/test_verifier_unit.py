"""The verifier's checks without network: keys preloaded with `load_jwks`, a controllable clock.

Everything here is pure computation; the network paths are in test_verifier_cache.py and
test_verifier_http.py.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from signet.algorithms import ALGORITHMS
from signet.jwk import public_key_to_jwk
from signet.keys.local import LocalSigningKey, generate_private_key
from signet.verifier import (
    Claims,
    SignetError,
    Verifier,
    VerifierConfigError,
    VerifierSettings,
)
from signet.verifier.bearer import bearer_token, challenge
from signet.verifier.errors import ALL_ERRORS
from signet.verifier.fetch import cache_max_age, jwks_uri_problem, url_problem
from signet.verifier.jwks_cache import CachePolicy
from signet.verifier.keys import MAX_KEYS, JwksError, parse_jwks
from signet.verifier.verifier import HEADER_CACHE_SIZE
from tests.support.clock import Clock
from tests.support.verifier_tokens import AUDIENCE, access_claims, mutate, open_key, sign_claims
from tests.support.verifier_tokens import refusal_code as code

ISSUER = "https://issuer.unit.test"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> LocalSigningKey:
    import asyncio

    return asyncio.run(open_key(tmp_path_factory.mktemp("keys")))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def make_verifier(key: LocalSigningKey, clock: Clock, **options: Any) -> Verifier:
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=ISSUER + "/jwks", clock=clock, **options)
    verifier.load_jwks(ISSUER, json.dumps({"keys": [key.published.jwk]}))
    return verifier


def claims_at(now: float, **changes: Any) -> dict[str, Any]:
    return access_claims(ISSUER, **{"iat": int(now), "nbf": int(now), "exp": int(now) + 300, **changes})


def test_every_error_has_its_own_code() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(error.description and '"' not in error.description for error in ALL_ERRORS)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"exp": NOW - 29}, "ok"),  # within the 30 s leeway
    ({"exp": NOW - 30}, "expired"),
    ({"nbf": NOW + 30}, "ok"),
    ({"nbf": NOW + 31}, "not_yet_valid"),
    ({"iat": NOW + 30}, "ok"),
    ({"iat": NOW + 31}, "iat_in_future"),
    ({"exp": NOW + 0.5}, "ok"),  # numbers need not be integers
    ({"exp": str(int(NOW) + 300)}, "invalid_claim"),
    ({"exp": True}, "invalid_claim"),  # bool is an int subclass in Python, not a JSON number
    ({"exp": 10**400}, "invalid_claim"),  # beyond float range: not a time, never "valid forever"
    ({"nbf": -(10**400)}, "invalid_claim"),
    ({"exp": None}, "missing_claim"),
    ({"jti": None}, "missing_claim"),
    ({"aud": ["api://other", AUDIENCE]}, "ok"),
    ({"scope": ["read"]}, "invalid_claim"),
    ({"client_id": 12}, "invalid_claim"),
])
def test_claim_checks(key: LocalSigningKey, clock: Clock, changes: dict[str, Any], expected: str) -> None:
    verifier = make_verifier(key, clock)
    claims = {k: v for k, v in {**claims_at(NOW), **changes}.items() if v is not None}
    assert code(verifier, sign_claims(key, claims)) == expected


def test_time_claims_reach_the_application_as_sent(key: LocalSigningKey, clock: Clock) -> None:
    """The checks read time claims as floats; the claims handed over keep the JSON's ints."""
    verifier = make_verifier(key, clock)
    claims = verifier.verify_sync(sign_claims(key, claims_at(NOW)))
    assert type(claims["exp"]) is int and claims["exp"] == claims_at(NOW)["exp"]


def test_leeway_is_configurable(key: LocalSigningKey, clock: Clock) -> None:
    strict = make_verifier(key, clock, leeway=0)
    assert code(strict, sign_claims(key, claims_at(NOW, exp=int(NOW)))) == "expired"
    assert code(strict, sign_claims(key, claims_at(NOW, nbf=int(NOW) + 1))) == "not_yet_valid"


def test_custom_required_claims(key: LocalSigningKey, clock: Clock) -> None:
    verifier = make_verifier(key, clock, required_claims=("sub", "tenant"))
    assert code(verifier, sign_claims(key, claims_at(NOW))) == "missing_claim"
    assert code(verifier, sign_claims(key, claims_at(NOW, tenant=None) | {"tenant": None})) == "missing_claim"
    assert code(verifier, sign_claims(key, claims_at(NOW, tenant="acme", jti=None))) == "ok"


def test_verified_token_cache_rechecks_time_and_is_bounded(key: LocalSigningKey, clock: Clock) -> None:
    verifier = make_verifier(key, clock, token_cache_size=2)
    tokens = [sign_claims(key, claims_at(NOW, jti=f"j{i}")) for i in range(3)]
    first = verifier.verify_sync(tokens[0])
    assert verifier.verify_sync(tokens[0]) is first  # a hit: the same claims object
    verifier.verify_sync(tokens[1])
    verifier.verify_sync(tokens[0])  # tokens[0] is now the most recently used
    verifier.verify_sync(tokens[2])  # evicts tokens[1], the least recently used
    assert [verifier.is_cached(t) for t in tokens] == [True, False, True]
    clock.now = NOW + 300 + 30  # exp + leeway
    assert code(verifier, tokens[0]) == "expired"
    assert not verifier.is_cached(tokens[0])


def test_forged_token_sharing_a_cached_suffix_is_verified_in_full(key: LocalSigningKey,
                                                                  clock: Clock) -> None:
    """The token cache is keyed by the token's last characters: a token with a cached
    token's signature but another payload must be refused, and must not evict it."""
    verifier = make_verifier(key, clock)
    token = sign_claims(key, claims_at(NOW, jti="real"))
    claims = verifier.verify_sync(token)
    other = sign_claims(key, claims_at(NOW, jti="other"))
    forged = other.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    assert forged[-32:] == token[-32:] and forged != token
    assert code(verifier, forged) == "bad_signature"
    assert not verifier.is_cached(forged)
    assert verifier.is_cached(token) and verifier.verify_sync(token) is claims


def test_header_cache_is_bounded(key: LocalSigningKey, clock: Clock) -> None:
    verifier = make_verifier(key, clock)
    for i in range(HEADER_CACHE_SIZE + 10):
        assert code(verifier, sign_claims(key, claims_at(NOW), x=i)) == "ok"
    assert len(verifier._headers) <= HEADER_CACHE_SIZE


def test_untrusted_issuer_is_never_fetched(key: LocalSigningKey, clock: Clock) -> None:
    verifier = make_verifier(key, clock)
    assert code(verifier, sign_claims(key, claims_at(NOW, iss="https://evil.example"))) == "wrong_issuer"
    assert verifier.stats.snapshot() == {name: 0 for name in verifier.stats.snapshot()}


def test_parser_is_total(key: LocalSigningKey, clock: Clock) -> None:
    """Any input gives claims or a SignetError: random mutations of a valid token, and junk."""
    verifier = make_verifier(key, clock, redis_url=None)
    verifier._cache.ensure = _no_network  # type: ignore[method-assign]
    valid = sign_claims(key, claims_at(NOW))
    rng = random.Random(7)
    alphabet = "ABCxyz019-_.=+/ \x00é{}\"[]:,"
    inputs: list[Any] = [None, 1, b"bytes", ["a.b.c"], "", ".", "..", "...", "a.b.c", valid + "\n"]
    mutations = (mutate(valid, rng, alphabet, 4, 0.4, 0.7) for _ in range(3000))
    # An edit can give back the token itself (a character replaced by itself, or deleted
    # and put back): those are the valid token, not a mutation, and are left out.
    inputs += [text for text in mutations if text != valid]
    accepted = []
    for value in inputs:
        try:
            verifier.verify_sync(value)
            accepted.append(value)
        except SignetError:
            pass
    assert len(inputs) > 2900 and accepted == []


async def _no_network(issuer: str, kid: str) -> None:
    from signet.verifier import UnknownKey

    raise UnknownKey("no network in this test")


def test_claims_mapping_is_read_only() -> None:
    claims = Claims({"sub": "a", "scope": "read  write", "aud": "x", "iss": "i", "exp": 5})
    assert claims.scopes == {"read", "write"} and claims.audiences == ("x",)
    assert claims.subject == "a" and claims.issuer == "i" and claims.expires_at == 5.0
    copy = claims.to_dict()
    copy["sub"] = "b"
    assert claims["sub"] == "a" and dict(claims) == {**copy, "sub": "a"}
    with pytest.raises(TypeError):
        claims["sub"] = "b"  # type: ignore[index]


@pytest.mark.parametrize(("header", "token"), [
    (None, None), ("", None), ("Basic abc", None), ("Bearer abc", "abc"), ("bearer  abc ", "abc"),
    ("BEARER a.b.c", "a.b.c"), ("Bearer", ""),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_challenge_never_carries_quotes() -> None:
    assert challenge() == "Bearer"
    assert challenge("invalid_token", 'bad "x" \\ y', realm="api") == (
        'Bearer realm="api", error="invalid_token", error_description="bad ?x? ? y"')


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("public, max-age=300", 300), ("max-age=0", 0), ("no-store", 0),
    ("no-cache, max-age=60", 0), ("public", None), ('max-age="45"', 45), ("s-maxage=9", None),
])
def test_cache_control(value: str | None, expected: float | None) -> None:
    assert cache_max_age(value) == expected


def test_max_age_is_bounded() -> None:
    policy = CachePolicy(min_ttl=60, max_ttl=600, max_staleness=0, unknown_kid_cooldown=1, http_timeout=1)
    assert [policy.ttl(v) for v in (None, 0, 120, 86400)] == [300, 60, 120, 600]


@pytest.mark.parametrize(("url", "ok"), [
    ("https://issuer.example", True), ("http://127.0.0.1:8000", True), ("http://localhost/x", True),
    ("http://[::1]:80", True), ("http://issuer.example", False), ("ftp://issuer.example", False),
    ("https://", False), ("issuer.example", False),
])
def test_url_policy(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


@pytest.mark.parametrize(("issuer", "jwks_uri", "allowed", "ok"), [
    ("https://id.example", "https://id.example/jwks", (), True),
    ("https://id.example", "https://ID.example:8443/keys", (), True),
    ("https://id.example", "https://keys.example/jwks", (), False),
    ("https://id.example", "https://keys.example/jwks", ("keys.example",), True),
    ("https://id.example", "http://127.0.0.1:9/jwks", (), False),  # loopback of the verifier's host
    ("https://id.example", "http://127.0.0.1:9/jwks", ("127.0.0.1",), False),  # never http for https
    ("https://id.example", "http://id.example/jwks", (), False),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8001/jwks", (), True),  # development
    ("http://127.0.0.1:8000", "http://localhost:8001/jwks", (), True),
    ("http://127.0.0.1:8000", "https://elsewhere.example/jwks", (), False),
])
def test_discovery_jwks_uri_stays_on_the_issuer_host(issuer: str, jwks_uri: str,
                                                      allowed: tuple[str, ...], ok: bool) -> None:
    assert (jwks_uri_problem(issuer, jwks_uri, allowed) is None) is ok


def test_jwks_parsing_skips_unusable_keys() -> None:
    good = public_key_to_jwk(generate_private_key(ALGORITHMS["ES256"]).public_key(), ALGORITHMS["ES256"])
    other = public_key_to_jwk(generate_private_key(ALGORITHMS["ES256"]).public_key(), ALGORITHMS["ES256"])
    algs = {"ES256": ALGORITHMS["ES256"]}
    document = {"keys": [
        good,
        {**other, "use": "enc"},
        {k: v for k, v in other.items() if k != "alg"},
        {**other, "kid": "private", "d": "AAAA"},
        {**other, "kid": "ops", "key_ops": ["sign"]},
        {**other, "kid": "dup"}, {**other, "kid": "dup"},
        {**other, "kid": "weak", "alg": "HS256"},
        "not an object",
    ]}
    keys, problems = parse_jwks(json.dumps(document), algs)
    assert list(keys) == [good["kid"]]
    assert len(problems) == 7  # the two duplicates are one problem
    with pytest.raises(JwksError):
        parse_jwks(json.dumps({"keys": [good] * (MAX_KEYS + 1)}), algs)
    with pytest.raises(JwksError):
        parse_jwks("[]", algs)


def test_algorithm_allow_list(key: LocalSigningKey, clock: Clock) -> None:
    only_rs = Verifier(ISSUER, AUDIENCE, jwks_url=ISSUER + "/jwks", clock=clock, algorithms="RS256")
    only_rs.load_jwks(ISSUER, json.dumps({"keys": [key.published.jwk]}))  # its ES256 key is skipped
    assert only_rs.known_kids(ISSUER) == frozenset()
    assert code(only_rs, sign_claims(key, claims_at(NOW))) == "unsupported_alg"


@pytest.mark.parametrize(("changes", "message"), [
    ({"SIGNET_VERIFIER_ISSUER": None}, "SIGNET_VERIFIER_ISSUER: required"),
    ({"SIGNET_VERIFIER_AUDIENCE": " , "}, "SIGNET_VERIFIER_AUDIENCE: required"),
    ({"SIGNET_VERIFIER_LEEWAY": "-1"}, "SIGNET_VERIFIER_LEEWAY: must be from 0 to 300"),
    ({"SIGNET_VERIFIER_ALGORITHMS": "ES256,HS256"},
     "SIGNET_VERIFIER_ALGORITHMS: unsupported algorithm 'HS256'"),
    ({"SIGNET_VERIFIER_ALGORITHMS": "none"}, "SIGNET_VERIFIER_ALGORITHMS: unsupported algorithm 'none'"),
    ({"SIGNET_VERIFIER_JWKS_URL": "http://keys.example/jwks"}, "SIGNET_VERIFIER_JWKS_URL: 'http://keys"),
    ({"SIGNET_VERIFIER_ISSUER": "https://a.example,https://b.example",
      "SIGNET_VERIFIER_JWKS_URL": "https://a.example/jwks"}, "SIGNET_VERIFIER_JWKS_URL: needs exactly one"),
    ({"SIGNET_VERIFIER_ISSUER": "http://issuer.example"}, "SIGNET_VERIFIER_ISSUER: 'http://issuer.example'"),
    ({"SIGNET_REDIS_URL": "localhost:6379"}, "SIGNET_REDIS_URL: must start with"),
    ({"SIGNET_CACHE_INTEGRITY_KEY": "short"}, "SIGNET_CACHE_INTEGRITY_KEY: must be at least 16 bytes"),
    ({"SIGNET_CACHE_INTEGRITY_KEY": " " * 31 + "x"}, "SIGNET_CACHE_INTEGRITY_KEY: has leading or trailing"),
    ({"SIGNET_CACHE_INTEGRITY_KEY": "integrity-key-0123456789\n"},
     "SIGNET_CACHE_INTEGRITY_KEY: has leading or trailing whitespace"),
    ({"SIGNET_CACHE_INTEGRITY_KEY": "k" * 32},
     "SIGNET_CACHE_INTEGRITY_KEY: must be at least 16 bytes, at least 8"),
    ({"SIGNET_VERIFIER_MIN_CACHE_SECONDS": "600", "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "60"},
     "SIGNET_VERIFIER_MIN_CACHE_SECONDS: must not exceed"),
    ({"SIGNET_VERIFIER_TOKEN_CACHE_SIZE": "lots"}, "SIGNET_VERIFIER_TOKEN_CACHE_SIZE: must be a number"),
])
def test_settings_errors_name_the_variable(changes: dict[str, str | None], message: str) -> None:
    env = {"SIGNET_VERIFIER_ISSUER": "https://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "api://x",
           **changes}
    with pytest.raises(VerifierConfigError) as raised:
        VerifierSettings.from_env({k: v for k, v in env.items() if v is not None})
    assert str(raised.value).startswith(message)


def test_settings_from_env() -> None:
    settings = VerifierSettings.from_env({
        "SIGNET_VERIFIER_ISSUER": "https://a.example, https://b.example",
        "SIGNET_VERIFIER_AUDIENCE": "api://x", "SIGNET_VERIFIER_LEEWAY": "5",
        "SIGNET_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SIGNET_CACHE_INTEGRITY_KEY": "integrity-key-for-the-tests-0123",
        "SIGNET_VERIFIER_TOKEN_CACHE_SIZE": "10"})
    assert settings.issuers == ("https://a.example", "https://b.example")
    assert (settings.leeway, settings.token_cache_size) == (5.0, 10)
    assert settings.cache_integrity_key == b"integrity-key-for-the-tests-0123"
    assert "k" * 32 not in repr(settings)


def test_load_jwks_only_for_trusted_issuers(key: LocalSigningKey, clock: Clock) -> None:
    verifier = make_verifier(key, clock)
    with pytest.raises(ValueError, match="not a trusted issuer"):
        verifier.load_jwks("https://evil.example", "{}")


def test_a_verifier_sharing_keys_through_redis_without_an_integrity_key_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    """Unkeyed Redis entries are trusted as they are: say so once, at construction (no I/O)."""
    from signet.verifier import Verifier

    with caplog.at_level("WARNING", logger="signet.verifier"):
        Verifier("https://issuer.example", "api://x", redis_url="redis://127.0.0.1:1/0").close()
    assert any("without SIGNET_CACHE_INTEGRITY_KEY" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="signet.verifier"):
        Verifier("https://issuer.example", "api://x", redis_url="redis://127.0.0.1:1/0",
                 cache_integrity_key=b"integrity-key-for-the-tests-0123").close()
    assert not any("INTEGRITY" in r.getMessage() for r in caplog.records)
