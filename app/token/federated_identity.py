"""Federated identities: which workload tokens a registered client is.

A client's `federated` list in the clients file names, per identity, the federation issuer,
the subject (exact, `subject`, or a pattern, `subject_pattern`), optionally the audience the
token must carry, and optionally claim conditions. Pattern syntax, chosen so that a pattern
never matches more than it visibly says:

- `*` matches one or more characters other than `:` and `/` (one segment);
- `**` matches one or more characters of any kind (several segments);
- everything else matches itself; three stars in a row, and a pattern without any literal
  character, are refused.

A Kubernetes namespace's `default` service account (`system:serviceaccount:<ns>:default`),
which every pod without a service account of its own runs as, is matched only by an exact
`subject`, never by a pattern.

Claim conditions are a mapping: a string value must equal the claim, a list of strings
names the values allowed, a mapping descends into an object claim (`kubernetes.io`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_IDENTITIES = 20
MAX_CONDITION_DEPTH = 4
IDENTITY_FIELDS = frozenset(("issuer", "subject", "subject_pattern", "audience", "claims"))
DEFAULT_SERVICE_ACCOUNT = re.compile(r"system:serviceaccount:[^:]+:default")
_PIECES = re.compile(r"\*\*|\*|[^*]+")


class IdentityError(ValueError):
    """A `federated` entry that cannot be used; str() says which field and why."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression a subject pattern stands for (see the module docstring)."""
    if "***" in pattern:
        raise IdentityError(f"subject_pattern {pattern!r}: use * (one segment) or ** (any), not ***")
    if not pattern.replace("*", ""):
        raise IdentityError(f"subject_pattern {pattern!r} names nothing literal")
    parts = []
    for piece in _PIECES.findall(pattern):
        parts.append(".+" if piece == "**" else "[^:/]+" if piece == "*" else re.escape(piece))
    return re.compile("".join(parts))


def _conditions(value: Any, where: str, depth: int = 0) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise IdentityError(f"{where} must be a non-empty mapping of claim names to values")
    if depth >= MAX_CONDITION_DEPTH:
        raise IdentityError(f"{where} nests deeper than {MAX_CONDITION_DEPTH} levels")
    for name, wanted in value.items():
        if not isinstance(name, str) or not name:
            raise IdentityError(f"{where}: claim names must be non-empty strings")
        if isinstance(wanted, dict):
            _conditions(wanted, f"{where}.{name}", depth + 1)
        elif isinstance(wanted, list):
            if not wanted or not all(isinstance(item, str) and item for item in wanted):
                raise IdentityError(f"{where}.{name}: a list must hold non-empty strings")
        elif not isinstance(wanted, str) or not wanted:
            raise IdentityError(f"{where}.{name}: must be a string, a list of strings or a mapping")
    return value


def conditions_hold(conditions: dict[str, Any], claims: Any) -> bool:
    """Whether every condition holds in `claims` (a missing claim never satisfies one)."""
    if not isinstance(claims, dict):
        return False
    for name, wanted in conditions.items():
        actual = claims.get(name)
        if isinstance(wanted, dict):
            if not conditions_hold(wanted, actual):
                return False
        elif isinstance(wanted, list):
            if not isinstance(actual, str) or actual not in wanted:
                return False
        elif actual != wanted:
            return False
    return True


@dataclass(frozen=True, slots=True)
class FederatedIdentity:
    """One workload identity a client may authenticate as."""

    issuer: str
    subject: str | None = None
    subject_pattern: str | None = None
    audience: str | None = None
    claims: dict[str, Any] | None = None
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, issuer: str, subject: str, audiences: tuple[str, ...],
                claims: dict[str, Any]) -> bool:
        if issuer != self.issuer:
            return False
        if self.subject is not None:
            if subject != self.subject:
                return False
        elif (self._regex is None or not self._regex.fullmatch(subject)
              or DEFAULT_SERVICE_ACCOUNT.fullmatch(subject)):
            return False
        if self.audience is not None and self.audience not in audiences:
            return False
        return self.claims is None or conditions_hold(self.claims, claims)

    def describe(self) -> str:
        """For audit lines: which declared identity matched (no claim values)."""
        return f"{self.issuer} {self.subject if self.subject is not None else self.subject_pattern}"

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"issuer": self.issuer}
        if self.subject is not None:
            out["subject"] = self.subject
        if self.subject_pattern is not None:
            out["subject_pattern"] = self.subject_pattern
        if self.audience is not None:
            out["audience"] = self.audience
        if self.claims is not None:
            out["claims"] = self.claims
        return out


def parse_identity(entry: Any, where: str) -> FederatedIdentity:
    if not isinstance(entry, dict):
        raise IdentityError(f"{where}: must be a mapping (issuer, subject or subject_pattern, ...)")
    unknown = set(entry) - IDENTITY_FIELDS
    if unknown:
        raise IdentityError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}"
                            f" (known: {', '.join(sorted(IDENTITY_FIELDS))})")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer or issuer != issuer.strip():
        raise IdentityError(f"{where}: issuer (the federation issuer URL) is required")
    subject, pattern = entry.get("subject"), entry.get("subject_pattern")
    if (subject is None) == (pattern is None):
        raise IdentityError(f"{where}: give exactly one of subject (exact) and subject_pattern")
    for name, value in (("subject", subject), ("subject_pattern", pattern)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 512):
            raise IdentityError(f"{where}: {name} must be a string of 1-512 characters")
    regex = compile_pattern(pattern) if pattern is not None else None
    audience = entry.get("audience")
    if audience is not None and (not isinstance(audience, str) or not audience.strip()):
        raise IdentityError(f"{where}: audience must be a non-empty string")
    claims = entry.get("claims")
    if claims is not None:
        claims = _conditions(claims, f"{where}: claims")
    return FederatedIdentity(issuer, subject, pattern, audience, claims, regex)


def parse_identities(value: Any, where: str) -> tuple[FederatedIdentity, ...]:
    if not isinstance(value, list) or not value:
        raise IdentityError(f"{where}: federated must be a non-empty list of identities")
    if len(value) > MAX_IDENTITIES:
        raise IdentityError(f"{where}: more than {MAX_IDENTITIES} federated identities")
    return tuple(parse_identity(entry, f"{where}: federated[{i}]") for i, entry in enumerate(value))
