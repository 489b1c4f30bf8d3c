"""The registry file: validation, both formats, atomic rewrite, reload rules, start-up refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.state.expiring import ExpiringMap
from app.token.client_secrets import generate_secret, hash_secret, secret_matches
from app.token.registry import (
    Client,
    ClientRegistry,
    RegistryError,
    parse_client,
    read_registry,
    registry_changes,
    write_registry,
)

HASH = hash_secret("s3cret")
GOOD: dict[str, Any] = {"secret_hash": HASH, "scopes": ["read"], "audiences": ["https://api"]}


@pytest.mark.parametrize(("client_id", "record", "message"), [
    ("bad id", GOOD, "use 1-128 of"),
    ("c", {**GOOD, "scope": ["x"]}, "unknown field(s) scope"),
    ("c", {**GOOD, "scopes": []}, "at least one scope"),
    ("c", {**GOOD, "scopes": ["a b"]}, "invalid entry"),
    ("c", {**GOOD, "default_scopes": ["write"]}, "default_scopes must be among its scopes"),
    ("c", {**GOOD, "audiences": []}, "at least one audience"),
    ("c", {**GOOD, "token_lifetime_seconds": 0}, "positive integer"),
    ("c", {**GOOD, "token_lifetime_seconds": True}, "positive integer"),
    ("c", {**GOOD, "enabled": "yes"}, "true or false"),
    ("c", {**GOOD, "secret_hash": "s3cret"}, "argon2id hash"),
    ("c", {k: v for k, v in GOOD.items() if k != "secret_hash"}, "secret_hash or a jwks"),
    ("c", {**GOOD, "jwks": {"keys": []}}, "non-empty 'keys'"),
    ("c", {**GOOD, "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "alg": "ES256"}]}},
     "invalid EC public key"),
    ("c", {**GOOD, "jwks": {"keys": [{"kty": "oct", "k": "AAAA", "alg": "HS256"}]}}, "private key material"),
])
def test_invalid_records_are_refused_with_the_reason(client_id: str, record: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_client(client_id, record)


@pytest.mark.parametrize("name", ["clients.yaml", "clients.toml"])
def test_round_trip_and_atomic_0600_write(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    clients = {"a": parse_client("a", {**GOOD, "token_lifetime_seconds": 60, "enabled": False})}
    write_registry(path, clients)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_registry(path) == clients
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_registry_reloads_on_change_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    write_registry(path, {"a": parse_client("a", GOOD)})
    registry = ClientRegistry(path)
    assert registry.get("a") is not None and registry.get("b") is None
    write_registry(path, {"b": parse_client("b", GOOD)})
    assert registry.reload_if_changed() is True
    assert registry.get("b") is not None and registry.get("a") is None
    path.write_text("clients: [")
    assert registry.reload_if_changed() is False
    assert registry.get("b") is not None
    assert registry.reload_if_changed() is False  # unchanged since: not re-read, not re-logged


def test_missing_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert len(ClientRegistry(tmp_path / "none.yaml")) == 0


def test_secrets_hash_and_check() -> None:
    secret = generate_secret()
    assert len(secret) >= 43 and ":" not in secret
    stored = hash_secret(secret)
    assert stored.startswith("$argon2id$") and secret not in stored
    assert secret_matches(stored, secret) and not secret_matches(stored, secret + "x")
    assert not secret_matches("not-a-hash", secret)


def test_expiring_map_is_bounded_and_expires() -> None:
    now = [0.0]
    entries: ExpiringMap[int] = ExpiringMap(3, clock=lambda: now[0])
    for i in range(5):
        entries.set(str(i), i, ttl=10)
    assert len(entries) == 3 and entries.get("0") is None and entries.get("4") == 4
    assert entries.increment("k", ttl=5) == 1 and entries.increment("k", ttl=5) == 2
    now[0] = 6
    assert entries.get("k") is None and entries.increment("k", ttl=5) == 1
    assert entries.add("once", 1, ttl=1) and not entries.add("once", 1, ttl=1)


def test_a_client_record_is_plain_data() -> None:
    client = parse_client("a", GOOD)
    assert isinstance(client, Client) and client.record() == {**GOOD, "default_scopes": [], "enabled": True}


def test_registry_changes_name_fields_old_and_new_and_never_a_secret() -> None:
    old = {"a": parse_client("a", GOOD), "gone": parse_client("gone", GOOD)}
    new = {"a": parse_client("a", {**GOOD, "scopes": ["read", "write"], "enabled": False,
                                   "secret_hash": hash_secret("other")}),
           "fresh": parse_client("fresh", GOOD)}
    changes = {cid: (kind, fields) for cid, kind, fields in registry_changes(old, new)}
    assert changes["a"] == ("updated", {"scopes": {"old": ("read",), "new": ("read", "write")},
                                        "enabled": {"old": True, "new": False},
                                        "secret": "changed"})
    assert changes["gone"][0] == "removed" and changes["fresh"][0] == "added"
    assert "$argon2id$" not in repr(changes)
    assert registry_changes(old, dict(old)) == []
