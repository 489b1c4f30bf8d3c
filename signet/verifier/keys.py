"""The memory layer: a JWKS document parsed into keys bound to one algorithm each.

The request path reads only `IssuerKeys.keys` and `IssuerKeys.usable_until`. They are
replaced whole (never mutated) by the refresh task, so readers need no lock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from signet.algorithms import Algorithm, algorithm_fits_key
from signet.jwk import JWKError, jwk_algorithm, jwk_to_public_key
from signet.signatures import SignatureCheck, verifier_for

if TYPE_CHECKING:
    from signet.verifier.roots import KeyTrust

MAX_KEYS = 100  # a JWKS with more keys than this is refused, not truncated


class JwksError(ValueError):
    """A JWKS document that cannot be used at all (not JSON, no `keys` array, too many keys)."""


@dataclass(frozen=True, slots=True)
class BoundKey:
    """A public key and the one algorithm it may verify (RFC 8725 section 3.1)."""

    kid: str
    alg: Algorithm
    check: SignatureCheck = field(repr=False)
    fingerprint: str = field(repr=False)  # the whole JWK: a kid whose key changed differs
    not_after: float = math.inf  # an attested key: its attestation's exp (plus leeway)
    # A key without `alg` that configuration binds to several algorithms (RSA: RS256 and
    # PS256, say): the same key bound to each of the others. Empty for nearly every key.
    alternates: Mapping[Algorithm, BoundKey] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class KeyBinding:
    """Which algorithms one issuer's keys may be bound to (RFC 8725 section 3.1).

    A JWK naming its `alg` gets that algorithm if `allowed` holds it. A JWK without `alg`
    gets every algorithm of `unnamed` that fits its type and curve: configuration chooses,
    never the token's header.
    """

    allowed: Mapping[str, Algorithm]
    unnamed: tuple[Algorithm, ...] = ()


@dataclass(slots=True)
class IssuerKeys:
    """Everything the verifier knows about one trusted issuer's keys."""

    issuer: str
    keys: Mapping[str, BoundKey] = field(default_factory=dict)
    fetched_at: float = 0.0  # when the issuer last served this set (origin time, not Redis time)
    fresh_until: float = 0.0  # refresh due after this
    usable_until: float = -math.inf  # stale-if-error limit; nothing verifies after it
    etag: str | None = None
    document: str | None = None  # the JWKS text, for If-None-Match and for Redis
    # Bumped after a key is removed; a verified-token cache entry remembers the generation
    # it was verified under and is ignored once it differs.
    generation: int = 0
    # Why the last refresh failed (issuer unreachable, bad document); None once one works.
    # Readiness reports it: keys still in use but no longer refreshed.
    refresh_error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.document is not None


def _entries(document: str | bytes) -> list[Any]:
    try:
        parsed = msgspec.json.decode(document)
    except (msgspec.DecodeError, ValueError, RecursionError):
        raise JwksError("JWKS is not valid JSON") from None
    entries = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise JwksError("JWKS has no 'keys' array")
    if len(entries) > MAX_KEYS:
        raise JwksError(f"JWKS has {len(entries)} keys; at most {MAX_KEYS} are accepted")
    return entries


def parse_jwks(document: str | bytes, binding: KeyBinding | Mapping[str, Algorithm],
               previous: Mapping[str, BoundKey] | None = None,
               trust: KeyTrust | None = None) -> tuple[dict[str, BoundKey], list[str]]:
    """Usable keys by kid, and one line per JWK that was skipped (for the log).

    A JWK is skipped, not fatal, when it is not for signatures, lacks a kid, names an
    algorithm outside the allow-list, lacks `alg` with no configured algorithm fitting its
    key, holds private members, or shares its kid with another JWK (ambiguous: both are
    dropped). With `trust` (pinned roots), a JWK that is neither a pinned root nor attested
    by one is skipped too. `binding` may be a bare allow-list (no key without `alg` is used).
    """
    if not isinstance(binding, KeyBinding):
        binding = KeyBinding(binding)
    entries = _entries(document)
    keys: dict[str, BoundKey] = {}
    problems: list[str] = []
    duplicated: set[str] = set()
    admitted: list[tuple[Any, float]] = [(jwk, math.inf) for jwk in entries]
    if trust is not None:
        admitted, problems = trust.admit(entries)
    for index, (jwk, not_after) in enumerate(admitted):
        try:
            key = _bind(jwk, binding, previous or {}, not_after)
        except JWKError as exc:
            problems.append(f"key {index}: {exc}")
            continue
        if key.kid in keys or key.kid in duplicated:
            duplicated.add(key.kid)
            keys.pop(key.kid, None)
            problems.append(f"key {index}: kid {key.kid[:64]!r} appears twice; both dropped")
            continue
        keys[key.kid] = key
    return keys, problems


def published_kids(document: str | bytes) -> frozenset[str]:
    """Every kid the document names, usable or not: decoded once per document, so a token
    with a made-up kid is told apart from an unusable key without decoding it again."""
    try:
        entries = _entries(document)
    except JwksError:
        return frozenset()
    return frozenset(jwk["kid"] for jwk in entries
                     if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str))


def why_unusable(document: str, kid: str, binding: KeyBinding,
                 trust: KeyTrust | None = None) -> str | None:
    """Why the issuer's JWK with this kid is not used, or None if it publishes no such kid."""
    try:
        entries = _entries(document)
    except JwksError:
        return None
    named = [jwk for jwk in entries if isinstance(jwk, dict) and jwk.get("kid") == kid]
    if not named:
        return None
    if len(named) > 1:
        return "the issuer's JWKS has two keys with this kid; neither is used"
    if trust is not None:
        admitted, _ = trust.admit(named)
        if not admitted:
            return "the issuer's key for this kid is not attested by a pinned root key"
    try:
        _bind(named[0], binding, {})
    except JWKError as exc:
        return f"the issuer's key for this kid cannot be used: {exc}"
    return None


def _bind(jwk: Any, binding: KeyBinding, previous: Mapping[str, BoundKey],
          not_after: float = math.inf) -> BoundKey:
    if not isinstance(jwk, dict):
        raise JWKError("not a JSON object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JWKError("no kid")
    if jwk.get("use", "sig") != "sig":
        raise JWKError(f"use is {jwk.get('use')!r}, not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise JWKError("key_ops does not allow 'verify'")
    fingerprint = json.dumps(jwk, sort_keys=True)
    earlier = previous.get(kid)
    if earlier is not None and earlier.fingerprint == fingerprint and earlier.not_after == not_after:
        return earlier  # unchanged: skip parsing the key again
    public_key = jwk_to_public_key(jwk)
    if "alg" not in jwk:
        return _bind_unnamed(kid, jwk, public_key, binding, fingerprint, not_after)
    alg = jwk_algorithm(jwk, public_key)
    if alg.name not in binding.allowed:
        raise JWKError(f"alg {alg.name} is not in the verifier's allow-list")
    return BoundKey(kid, alg, verifier_for(alg, public_key), fingerprint, not_after)


def _bind_unnamed(kid: str, jwk: dict[str, Any], public_key: Any, binding: KeyBinding,
                  fingerprint: str, not_after: float) -> BoundKey:
    """A JWK without `alg` (Entra ID and Google publish such keys): bound by configuration."""
    fitting = [alg for alg in binding.unnamed if algorithm_fits_key(alg, public_key)]
    if not fitting:
        kind = f"{jwk.get('kty')} {jwk.get('crv')}" if "crv" in jwk else str(jwk.get("kty"))
        configured = ", ".join(alg.name for alg in binding.unnamed) or "none"
        raise JWKError(f"no 'alg', and no algorithm configured for keys without one fits a"
                       f" {kind} key (configured: {configured})")
    bound = [BoundKey(kid, alg, verifier_for(alg, public_key), fingerprint, not_after)
             for alg in fitting]
    if len(bound) == 1:
        return bound[0]
    return BoundKey(kid, bound[0].alg, bound[0].check, fingerprint, not_after,
                    {key.alg: key for key in bound[1:]})


def removed_kids(old: Mapping[str, BoundKey], new: Mapping[str, BoundKey]) -> set[str]:
    """Kids that no longer verify: gone, or now naming a different key."""
    return {kid for kid, key in old.items() if new.get(kid) is not key}
