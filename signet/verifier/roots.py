"""Pinned root keys (SIGNET_VERIFIER_ROOT_KEYS): which JWKS keys a verifier may trust.

Without pins every well-formed JWKS key is used, as any JWT library does. With pins, a
key is used only if it is a pinned root itself, or carries a `signet_attestation` that
verifies under a pinned root, names this issuer, attests exactly this key, and is
inside its validity window. Neither the JWKS endpoint, the network nor a Redis writer
can then add a signing key; at worst they can withhold one (tokens are refused).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signet.attestation import ATTESTATION_MEMBER, AttestationError, RootKey, verify_attestation
from signet.jwk import JWKError, jwk_to_public_key, thumbprint

THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


class RootPinError(ValueError):
    """SIGNET_VERIFIER_ROOT_KEYS cannot be understood."""


@dataclass(frozen=True, slots=True)
class RootPins:
    """Pinned thumbprints; for pins given as JWKs the key itself is known in advance."""

    thumbprints: frozenset[str]
    keys: Mapping[str, RootKey]

    @classmethod
    def parse(cls, value: str | Sequence[Any] | Mapping[str, Any]) -> RootPins:
        """Comma-separated RFC 7638 thumbprints, or a JWK, a JSON array of JWKs, or a JWKS."""
        items: list[Any]
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(("{", "[")):
                try:
                    items = _jwk_list(json.loads(text))
                except ValueError as exc:
                    raise RootPinError(f"not a JWK, JWK array or JWKS: {exc}") from None
            else:
                items = [part.strip() for part in text.split(",") if part.strip()]
        elif isinstance(value, Mapping):
            items = _jwk_list(value)
        else:
            items = list(value)
        keys: dict[str, RootKey] = {}
        prints: set[str] = set()
        for item in items:
            if isinstance(item, str):
                if not THUMBPRINT.fullmatch(item):
                    raise RootPinError(f"{item[:64]!r} is not an RFC 7638 SHA-256 thumbprint")
                prints.add(item)
            elif isinstance(item, Mapping):
                try:
                    root = RootKey.from_jwk(item)
                except JWKError as exc:
                    raise RootPinError(f"pinned JWK: {exc}") from None
                keys[root.kid] = root
                prints.add(root.kid)
            else:
                raise RootPinError("each pin is a thumbprint string or a JWK object")
        if not prints:
            raise RootPinError("no root key given")
        return cls(frozenset(prints), keys)

    def admit(self, entries: Sequence[Any], issuer: str, now: float,
              leeway: float) -> tuple[list[tuple[dict[str, Any], float]], list[str]]:
        """The JWKS entries to use, each with the time it stops being trusted, and one
        line per refused entry (for the log)."""
        roots = dict(self.keys)
        root_entries: dict[int, float] = {}
        for index, jwk in enumerate(entries):
            kid = _own_thumbprint(jwk)
            if kid is not None and kid in self.thumbprints and ATTESTATION_MEMBER not in jwk:
                try:
                    roots.setdefault(kid, RootKey.from_jwk(jwk))
                except JWKError:
                    continue
                root_entries[index] = float("inf")
        admitted: list[tuple[dict[str, Any], float]] = []
        problems: list[str] = []
        for index, jwk in enumerate(entries):
            if index in root_entries:
                admitted.append((jwk, root_entries[index]))
                continue
            if not isinstance(jwk, dict):
                problems.append(f"key {index}: not a JSON object")
                continue
            try:
                attestation = verify_attestation(jwk.get(ATTESTATION_MEMBER), roots, issuer, jwk,
                                                 now, leeway)
            except AttestationError as exc:
                problems.append(f"key {index}: {exc}")
                continue
            admitted.append((jwk, attestation.expires + leeway))
        return admitted, problems


def _own_thumbprint(jwk: Any) -> str | None:
    if not isinstance(jwk, dict):
        return None
    try:
        return thumbprint(jwk_to_public_key(jwk))
    except JWKError:
        return None


def _jwk_list(value: Any) -> list[Any]:
    if isinstance(value, Mapping) and isinstance(value.get("keys"), list):
        return list(value["keys"])
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError("expected an object or an array")


@dataclass(frozen=True, slots=True)
class KeyTrust:
    """RootPins applied to one issuer's JWKS, with the verifier's clock and leeway."""

    pins: RootPins
    issuer: str
    leeway: float
    clock: Any  # Callable[[], float]

    def admit(self, entries: Sequence[Any]) -> tuple[list[tuple[dict[str, Any], float]], list[str]]:
        return self.pins.admit(entries, self.issuer, self.clock(), self.leeway)
