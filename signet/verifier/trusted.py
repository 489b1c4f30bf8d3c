"""Trusted issuers: each one's profile, audiences, algorithms and key source.

Two ways to say them, which may be combined:

- `SIGNET_VERIFIER_ISSUER` (comma-separated), all with `SIGNET_VERIFIER_PROFILE`
  (default `rfc9068`), `SIGNET_VERIFIER_AUDIENCE` and `SIGNET_VERIFIER_ALGORITHMS`;
- `SIGNET_VERIFIER_ISSUERS_FILE`, a TOML file with one `[[issuer]]` table per issuer, each
  with its own values (the `issuers` keyword takes the same tables as a list of dicts).

Why TOML: the standard library reads it (`tomllib`), so the verifier's extra gains no
dependency, and a person can write it by hand with comments.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signet.algorithms import ALGORITHMS, KeyFamily
from signet.bounded_file import FileReadError, read_bounded
from signet.verifier.errors import VerifierConfigError
from signet.verifier.fetch import url_problem
from signet.verifier.profiles import IssuerProfile, profile_named
from signet.verifier.roots import RootPinError, RootPins

FILE_VARIABLE = "SIGNET_VERIFIER_ISSUERS_FILE"
ENTRY_KEYS = frozenset(("issuer", "profile", "audiences", "algorithms", "jwks_url", "jwks_file",
                        "root_keys"))
MAX_FILE_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One issuer this verifier trusts, and how its tokens are checked."""

    issuer: str
    profile: IssuerProfile
    audiences: tuple[str, ...]  # for the cognito profile: the app client ids allowed
    algorithms: tuple[str, ...]  # allow-list: a key's `alg` must be one of these
    # Algorithms a JWK *without* `alg` may be bound to, by its type and curve: the allow-list,
    # except that RSA keys get RS256 only unless the algorithms were configured for the issuer.
    unnamed_key_algorithms: tuple[str, ...]
    jwks_url: str | None = None  # None: found by OpenID discovery (unless jwks_file is set)
    root_keys: RootPins | None = None
    # A local JWKS file read instead of any URL: an issuer the verifier cannot reach (a
    # cluster's service-account issuer, a SPIFFE bundle written by an agent). Re-read on refresh.
    jwks_file: str | None = None


def unnamed_key_algorithms(algorithms: Sequence[str], configured: bool) -> tuple[str, ...]:
    """RFC 8725 section 3.1: a key is used with one algorithm, chosen by configuration, never
    by the token's header. Without configuration an RSA key without `alg` is RS256 only."""
    if configured:
        return tuple(algorithms)
    return tuple(name for name in algorithms
                 if ALGORITHMS[name].family is not KeyFamily.RSA or name == "RS256")


def read_issuers_file(path: str) -> list[dict[str, Any]]:
    """The `[[issuer]]` tables of a TOML file, or a VerifierConfigError naming the variable."""
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except FileReadError as exc:
        raise VerifierConfigError(FILE_VARIABLE, str(exc)) from None
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VerifierConfigError(FILE_VARIABLE, f"{path!r} is not valid TOML: {exc}") from None
    unknown = set(document) - {"issuer"}
    if unknown:
        raise VerifierConfigError(FILE_VARIABLE, f"{path!r}: unknown top-level key(s)"
                                  f" {', '.join(sorted(unknown))}; write [[issuer]] tables")
    entries = document.get("issuer")
    if not isinstance(entries, list) or not entries:
        raise VerifierConfigError(FILE_VARIABLE, f"{path!r} has no [[issuer]] table")
    return entries


def trusted_issuer(entry: Any, where: str, *, audiences: tuple[str, ...], algorithms: Sequence[str],
                   algorithms_configured: bool, variable: str = FILE_VARIABLE,
                   kind: str = "access") -> TrustedIssuer:
    """One `[[issuer]]` table, checked; `audiences` and `algorithms` are the defaults, `kind`
    the kind of profile it may name (see signet.verifier.profiles.profile_named)."""
    if not isinstance(entry, Mapping):
        raise VerifierConfigError(variable, f"{where}: not a table")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise VerifierConfigError(variable, f"{where}: unknown key(s) {', '.join(sorted(unknown))};"
                                  f" known: {', '.join(sorted(ENTRY_KEYS))}")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip():
        raise VerifierConfigError(variable, f"{where}: 'issuer' (the issuer URL) is required")
    issuer = issuer.strip()
    default_profile = "rfc9068" if kind == "access" else ""
    profile = profile_named(str(entry.get("profile", default_profile)), variable, kind)
    own_audiences = _strings(entry.get("audiences"), variable, f"{where}: 'audiences'")
    if not (own_audiences or audiences):
        what = "app client ids" if profile.audience_from == "client_id" else "audiences"
        raise VerifierConfigError(variable, f"{where}: 'audiences' (the {what} to accept) is"
                                  " required when SIGNET_VERIFIER_AUDIENCE is not set")
    own_algorithms = _strings(entry.get("algorithms"), variable, f"{where}: 'algorithms'")
    for name in own_algorithms:
        if name not in ALGORITHMS:
            raise VerifierConfigError(variable, f"{where}: unsupported algorithm {name!r};"
                                      f" choose from {', '.join(ALGORITHMS)}")
    chosen = own_algorithms or tuple(algorithms)
    jwks_url, jwks_file = entry.get("jwks_url"), entry.get("jwks_file")
    if jwks_file is not None:
        if jwks_url is not None:
            raise VerifierConfigError(variable, f"{where}: set 'jwks_url' or 'jwks_file', not both")
        if not isinstance(jwks_file, str) or not jwks_file.strip():
            raise VerifierConfigError(variable, f"{where}: 'jwks_file' must be a file path")
    elif jwks_url is not None:
        problem = url_problem(jwks_url) if isinstance(jwks_url, str) else "must be a string"
        if problem:
            raise VerifierConfigError(variable, f"{where}: 'jwks_url' {problem}")
    else:
        problem = url_problem(issuer)
        if problem:
            raise VerifierConfigError(variable, f"{where}: 'issuer' {problem} (keys are found by"
                                      " OpenID discovery; set 'jwks_url' otherwise)")
    pins = None
    if entry.get("root_keys") is not None:
        try:
            pins = RootPins.parse(entry["root_keys"])
        except RootPinError as exc:
            raise VerifierConfigError(variable, f"{where}: 'root_keys' {exc}") from None
    return TrustedIssuer(issuer, profile, own_audiences or audiences, chosen,
                         unnamed_key_algorithms(chosen, bool(own_algorithms) or algorithms_configured),
                         jwks_url, pins, jwks_file)


def _strings(value: Any, variable: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        raise VerifierConfigError(variable, f"{what} must be a string or a list of non-empty strings")
    return tuple(item.strip() for item in items)
