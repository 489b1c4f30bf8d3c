"""Client secrets at rest and at check time: argon2id with memory-hard parameters, the same
work for an unknown client as for a wrong secret, and a success cache that holds no secret.
The argon2 calls are counted by a wrapper that delegates to the real hasher."""

from __future__ import annotations

from typing import Any

import pytest

from app.token import client_secrets
from app.token.client_secrets import SecretVerifier, generate_secret, hash_secret


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification performed, by stored hash; each still runs for real."""
    calls: list[str] = []
    real = client_secrets.secret_matches

    def counting(stored_hash: str, secret: str) -> bool:
        calls.append(stored_hash)
        return real(stored_hash, secret)

    monkeypatch.setattr(client_secrets, "secret_matches", counting)
    return calls


def test_secrets_are_stored_as_memory_hard_argon2id() -> None:
    secret = generate_secret()
    stored = hash_secret(secret)
    variant, version, params, _salt, _digest = stored.split("$")[1:]
    assert (variant, version) == ("argon2id", "v=19")
    cost = dict(p.split("=") for p in params.split(","))
    assert int(cost["m"]) >= 65536 and int(cost["t"]) >= 3  # RFC 9106 second recommended option
    assert secret not in stored and len(secret) >= 43  # 256 random bits, base64url


async def test_unknown_client_costs_what_a_wrong_secret_costs(argon2_checks: list[str]) -> None:
    verifier = SecretVerifier(cache_seconds=300)
    stored = hash_secret("the-right-secret")
    assert not await verifier.verify("known", stored, "wrong")
    assert not await verifier.verify("nobody", None, "the-right-secret")
    assert len(argon2_checks) == 2  # one full argon2id check each
    assert argon2_checks[0] == stored
    assert argon2_checks[1] != stored and argon2_checks[1].startswith("$argon2id$")  # the dummy hash


async def test_success_cache_holds_no_secret_and_only_successes(argon2_checks: list[str]) -> None:
    verifier = SecretVerifier(cache_seconds=300)
    secret = "s3cret-" + "x" * 40
    stored = hash_secret(secret)
    assert not verifier.recently_verified("c", stored, secret)
    assert await verifier.verify("c", stored, secret)
    assert verifier.recently_verified("c", stored, secret)
    assert not verifier.recently_verified("c", stored, secret + "x")  # a guess never hits the cache
    assert not verifier.recently_verified("c", hash_secret(secret), secret)  # rotated: new hash, no hit
    entries: dict[str, Any] = verifier._verified._entries
    assert entries and all(secret not in key and len(key) == 64 for key in entries)  # HMAC-SHA256 hex


async def test_cache_hit_needs_the_same_three_parts_not_the_same_characters(
        argon2_checks: list[str]) -> None:
    """The cache key is a MAC over client id, stored hash and secret: characters moved from one
    part to the next (same concatenation) never hit another client's entry, and a secret no
    UTF-8 encoder accepts (a lone surrogate) is a miss, not an error."""
    verifier = SecretVerifier(cache_seconds=300)
    secret = "s3cret-" + "x" * 40
    stored = hash_secret(secret)
    assert await verifier.verify("ab", stored, secret)
    assert verifier.recently_verified("ab", stored, secret)
    assert not verifier.recently_verified("a", "b" + stored, secret)
    assert not verifier.recently_verified("ab" + stored[:5], stored[5:], secret)
    assert not verifier.recently_verified("ab", stored + secret[:3], secret[3:])
    assert not verifier.recently_verified("2:ab", stored, secret)
    assert not verifier.recently_verified("ab", stored, "\ud800")
    assert verifier.in_flight("ab", stored, "\ud800") is None
