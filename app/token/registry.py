"""The client registry: who may get tokens, with which scopes and audiences.

One file (SIGNET_CLIENTS_FILE), YAML or TOML by its extension, holding secret *hashes*
only. The issuer re-reads it when its size, mtime or inode change (checked at most once
a second, a stat call); a file that fails validation is refused as a whole and the last
good registry stays in force, with one log line per bad version. Writers (the CLI)
replace it atomically (temp file + rename, mode 0600) under an advisory lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from signet.algorithms import ALGORITHMS, Algorithm
from signet.jwk import JWKError, PublicKey, jwk_algorithm, jwk_to_public_key

from .federated_identity import FederatedIdentity, IdentityError, parse_identities

log = logging.getLogger("signet.clients")

CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
MAX_CLIENT_KEYS = 10
# What a registered client key may sign its private_key_jwt assertions with: every algorithm
# `jwk_algorithm` binds a key to. Discovery publishes exactly this list.
ASSERTION_ALGORITHMS: tuple[str, ...] = tuple(ALGORITHMS)
RELOAD_CHECK_SECONDS = 1.0
FIELDS = {"secret_hash", "scopes", "default_scopes", "audiences", "token_lifetime_seconds",
          "enabled", "jwks", "federated"}


class RegistryError(Exception):
    """The registry file cannot be used; str() names the file and the client."""


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A public key a client signs its assertions with, bound to one algorithm."""

    public_key: PublicKey
    alg: Algorithm
    kid: str | None


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    scopes: tuple[str, ...]
    default_scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    secret_hash: str | None = None
    token_lifetime_seconds: int | None = None
    enabled: bool = True
    jwks: dict[str, Any] | None = None
    keys: tuple[ClientKey, ...] = field(default=(), compare=False)
    federated: tuple[FederatedIdentity, ...] = ()  # workload identities it authenticates as

    @property
    def auth_methods(self) -> tuple[str, ...]:
        methods = ("client_secret_basic", "client_secret_post") if self.secret_hash else ()
        return (methods + (("private_key_jwt",) if self.keys else ())
                + (("federated",) if self.federated else ()))

    def record(self) -> dict[str, Any]:
        """The file form (no client_id: it is the key of the record)."""
        out: dict[str, Any] = {}
        if self.secret_hash:
            out["secret_hash"] = self.secret_hash
        if self.jwks:
            out["jwks"] = self.jwks
        if self.federated:
            out["federated"] = [identity.record() for identity in self.federated]
        out.update(scopes=list(self.scopes), default_scopes=list(self.default_scopes),
                   audiences=list(self.audiences))
        if self.token_lifetime_seconds is not None:
            out["token_lifetime_seconds"] = self.token_lifetime_seconds
        out["enabled"] = self.enabled
        return out


def _strings(client_id: str, name: str, value: Any, pattern: re.Pattern[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"client {client_id!r}: {name} must be a list of strings")
    for item in value:
        if (pattern and not pattern.fullmatch(item)) or not item or item != item.strip():
            raise RegistryError(f"client {client_id!r}: {name} has an invalid entry {item!r}")
    return tuple(dict.fromkeys(value))


def parse_jwks(jwks: Any, where: str) -> tuple[ClientKey, ...]:
    """Public keys only, each pinned to its `alg` (RFC 8725 section 3.1)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise RegistryError(f"{where}: jwks must be an object with a non-empty 'keys' list")
    if len(jwks["keys"]) > MAX_CLIENT_KEYS:
        raise RegistryError(f"{where}: jwks holds more than {MAX_CLIENT_KEYS} keys")
    keys = []
    for jwk in jwks["keys"]:
        try:
            public_key = jwk_to_public_key(jwk)
            alg = jwk_algorithm(jwk, public_key)
        except JWKError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        if jwk.get("use", "sig") != "sig":
            raise RegistryError(f"{where}: key use must be 'sig'")
        kid = jwk.get("kid")
        keys.append(ClientKey(public_key, alg, kid if isinstance(kid, str) else None))
    return tuple(keys)


def parse_client(client_id: str, record: Any) -> Client:
    if not CLIENT_ID.fullmatch(client_id):
        raise RegistryError(f"client id {client_id!r}: use 1-128 of A-Z a-z 0-9 . _ ~ -")
    if not isinstance(record, dict):
        raise RegistryError(f"client {client_id!r}: must be a mapping of settings")
    unknown = set(record) - FIELDS
    if unknown:
        raise RegistryError(f"client {client_id!r}: unknown field(s) {', '.join(sorted(unknown))}"
                            f" (known: {', '.join(sorted(FIELDS))})")
    scopes = _strings(client_id, "scopes", record.get("scopes"), SCOPE_TOKEN)
    if not scopes:
        raise RegistryError(f"client {client_id!r}: scopes must name at least one scope")
    defaults = _strings(client_id, "default_scopes", record.get("default_scopes"), SCOPE_TOKEN)
    if not set(defaults) <= set(scopes):
        raise RegistryError(f"client {client_id!r}: default_scopes must be among its scopes")
    audiences = _strings(client_id, "audiences", record.get("audiences"), re.compile(r"\S{1,512}"))
    if not audiences:
        raise RegistryError(f"client {client_id!r}: audiences must name at least one audience")
    lifetime = record.get("token_lifetime_seconds")
    if lifetime is not None and (type(lifetime) is not int or lifetime < 1):
        raise RegistryError(f"client {client_id!r}: token_lifetime_seconds must be a positive integer")
    enabled = record.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RegistryError(f"client {client_id!r}: enabled must be true or false")
    secret_hash = record.get("secret_hash")
    if secret_hash is not None and (not isinstance(secret_hash, str)
                                    or not secret_hash.startswith("$argon2id$")):
        raise RegistryError(f"client {client_id!r}: secret_hash must be an argon2id hash"
                            " (never the secret itself)")
    jwks = record.get("jwks")
    keys = parse_jwks(jwks, f"client {client_id!r}") if jwks is not None else ()
    federated: tuple[FederatedIdentity, ...] = ()
    if record.get("federated") is not None:
        try:
            federated = parse_identities(record["federated"], f"client {client_id!r}")
        except IdentityError as exc:
            raise RegistryError(str(exc)) from None
    if not secret_hash and not keys and not federated:
        raise RegistryError(f"client {client_id!r}: needs a secret_hash or a jwks (or federated"
                            " identities) to authenticate")
    return Client(client_id, scopes, defaults, audiences, secret_hash, lifetime, enabled, jwks, keys,
                  federated)


def parse_registry(document: Any, path: Path) -> dict[str, Client]:
    if document is None:
        return {}
    if not isinstance(document, dict) or set(document) - {"clients"}:
        raise RegistryError(f"{path}: expected one top-level 'clients' mapping")
    records = document.get("clients") or {}
    if not isinstance(records, dict):
        raise RegistryError(f"{path}: 'clients' must map client ids to their settings")
    try:
        return {str(cid): parse_client(str(cid), record) for cid, record in records.items()}
    except RegistryError as exc:
        raise RegistryError(f"{path}: {exc}") from None


def _is_toml(path: Path) -> bool:
    return path.suffix == ".toml"


def read_registry(path: Path) -> dict[str, Client]:
    """The clients in `path`; a missing file is an empty registry."""
    return read_registry_version(path)[0]


def read_registry_version(path: Path) -> tuple[dict[str, Client], str | None]:
    """The clients in `path` and the SHA-256 (hex) of the bytes they were read from
    (None: no file), so an audit line names exactly which version is in force."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror}") from None
    return _parse_bytes(raw, path), hashlib.sha256(raw).hexdigest()


def _parse_bytes(raw: bytes, path: Path) -> dict[str, Client]:
    try:
        document = tomllib.loads(raw.decode()) if _is_toml(path) else yaml.safe_load(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RegistryError(f"{path}: not valid {'TOML' if _is_toml(path) else 'YAML'}: {reason}") from None
    return parse_registry(document, path)


def write_registry(path: Path, clients: dict[str, Client]) -> None:
    """Replace the file atomically, mode 0600: readers see the old or the new file, never half."""
    document = {"clients": {cid: c.record() for cid, c in sorted(clients.items())}}
    if _is_toml(path):
        text = tomli_w.dumps(document)
    else:
        text = ("# Signet clients: secret hashes only. Written by `signet clients`; see README.\n"
                + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp creates the file 0600
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextmanager
def editing(path: Path) -> Iterator[dict[str, Client]]:
    """Read-modify-write under an exclusive lock, so two CLI runs cannot lose an update."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = path.with_name(f".{path.name}.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        clients = read_registry(path)
        yield clients
        write_registry(path, clients)


CHANGED = "changed"  # what an audit line says of a secret or key: never its value
_AUDITED = ("scopes", "default_scopes", "audiences", "token_lifetime_seconds", "enabled")


def registry_changes(old: dict[str, Client], new: dict[str, Client]
                     ) -> list[tuple[str, str, dict[str, Any]]]:
    """(client_id, "added" | "removed" | "updated", {field: {"old", "new"}}) for every client
    that differs. A secret or key change says only "changed": never a hash or a key."""
    changes: list[tuple[str, str, dict[str, Any]]] = []
    for client_id in sorted(set(old) | set(new)):
        before, after = old.get(client_id), new.get(client_id)
        if before is None or after is None:
            current = after or before
            assert current is not None
            fields = {f: getattr(current, f) for f in _AUDITED}
            changes.append((client_id, "added" if before is None else "removed", fields))
            continue
        diff: dict[str, Any] = {f: {"old": getattr(before, f), "new": getattr(after, f)}
                                for f in _AUDITED if getattr(before, f) != getattr(after, f)}
        if before.secret_hash != after.secret_hash:
            diff["secret"] = CHANGED
        if before.jwks != after.jwks:
            diff["jwks"] = CHANGED
        if diff:
            changes.append((client_id, "updated", diff))
    return changes


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class ClientRegistry:
    """The issuer's view of the file, reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature = _signature(path)
        # at start-up a bad file is an error, not a warning
        self._clients, self.sha256 = read_registry_version(path)
        self._checked_at = time.monotonic()
        self._warn_if_readable()

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, client_id: str) -> Client | None:
        if time.monotonic() - self._checked_at >= RELOAD_CHECK_SECONDS:
            self.reload_if_changed()
        return self._clients.get(client_id)

    def federated_matches(self, issuer: str, subject: str, audiences: tuple[str, ...],
                          claims: dict[str, Any]) -> list[tuple[Client, FederatedIdentity]]:
        """Every (client, identity) whose declared federated identity this token matches."""
        if time.monotonic() - self._checked_at >= RELOAD_CHECK_SECONDS:
            self.reload_if_changed()
        return [(client, identity) for client in self._clients.values()
                for identity in client.federated
                if identity.matches(issuer, subject, audiences, claims)]

    def reload_if_changed(self) -> bool:
        self._checked_at = time.monotonic()
        signature = _signature(self.path)
        if signature == self._signature:
            return False
        self._signature = signature  # a bad version is reported once, not on every request
        try:
            clients, sha256 = read_registry_version(self.path)
        except RegistryError as exc:
            log.error("clients file not reloaded; the previous registry stays in force",
                      extra={"fields": {"reason": str(exc)}})
            return False
        previous, previous_sha256 = self._clients, self.sha256
        self._clients, self.sha256 = clients, sha256
        log.info("clients file reloaded", extra={"fields": {
            "path": str(self.path), "clients": len(clients), "old_sha256": previous_sha256,
            "new_sha256": sha256}})
        for client_id, change, fields in registry_changes(previous, clients):
            log.info("client registry change", extra={"fields": {
                "event": "client_" + change, "client_id": client_id, "changed": fields,
                "path": str(self.path), "old_sha256": previous_sha256, "new_sha256": sha256}})
        self._warn_if_readable()
        return True

    def _warn_if_readable(self) -> None:
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return
        if mode & 0o077:
            log.warning("clients file is readable by group or others; chmod 600 it",
                        extra={"fields": {"path": str(self.path), "mode": oct(mode & 0o777)}})
