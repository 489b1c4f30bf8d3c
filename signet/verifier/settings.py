"""Verifier settings: keyword arguments of `Verifier`, or `SIGNET_VERIFIER_*` variables.

Plain dataclass, no pydantic: `signet.verifier` must import with only its own extra.
Every problem is one VerifierConfigError whose message starts with the variable to fix,
also when the value came in as a keyword argument (the variable names the option).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from signet.algorithms import ALGORITHMS
from signet.durations import SHARED_RANGES, checked_duration
from signet.redis_url import check_redis_url
from signet.verifier.errors import VerifierConfigError
from signet.verifier.fetch import url_problem
from signet.verifier.profiles import profile_named
from signet.verifier.roots import RootPinError, RootPins
from signet.verifier.trusted import (
    FILE_VARIABLE,
    TrustedIssuer,
    read_issuers_file,
    trusted_issuer,
    unnamed_key_algorithms,
)

# Option name -> environment variable.
ENVIRONMENT = {
    "issuers": "SIGNET_VERIFIER_ISSUER",
    "audiences": "SIGNET_VERIFIER_AUDIENCE",
    "jwks_url": "SIGNET_VERIFIER_JWKS_URL",
    "leeway": "SIGNET_VERIFIER_LEEWAY",
    "redis_url": "SIGNET_REDIS_URL",
    "redis_prefix": "SIGNET_VERIFIER_REDIS_PREFIX",
    "cache_integrity_key": "SIGNET_CACHE_INTEGRITY_KEY",
    "min_cache_seconds": "SIGNET_VERIFIER_MIN_CACHE_SECONDS",
    "max_cache_seconds": "SIGNET_VERIFIER_MAX_CACHE_SECONDS",
    "max_staleness_seconds": "SIGNET_VERIFIER_MAX_STALENESS_SECONDS",
    "unknown_kid_cooldown_seconds": "SIGNET_VERIFIER_UNKNOWN_KID_COOLDOWN_SECONDS",
    "http_timeout_seconds": "SIGNET_VERIFIER_HTTP_TIMEOUT_SECONDS",
    "token_cache_size": "SIGNET_VERIFIER_TOKEN_CACHE_SIZE",
    "max_token_bytes": "SIGNET_VERIFIER_MAX_TOKEN_BYTES",
    "algorithms": "SIGNET_VERIFIER_ALGORITHMS",
    "root_keys": "SIGNET_VERIFIER_ROOT_KEYS",
    "jwks_hosts": "SIGNET_VERIFIER_JWKS_HOSTS",
    "profile": "SIGNET_VERIFIER_PROFILE",
    "issuers_file": FILE_VARIABLE,
}
MIN_DISTINCT_BYTES = 8  # "x" * 32 is not a key
MIN_INTEGRITY_KEY_BYTES = 16


def _number(low: float, high: float) -> Callable[[str, Any], float]:
    def convert(name: str, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise VerifierConfigError(ENVIRONMENT[name], f"must be a number, got {value!r}") from None
        if not low <= number <= high:
            raise VerifierConfigError(ENVIRONMENT[name], f"must be from {low:g} to {high:g}, got {value!r}")
        return number
    return convert


def _duration(low: float, high: float) -> Callable[[str, Any], float]:
    """Seconds as a number, or `30s`, `10m`, `1h`, `7d`, `PT1H`: as the issuer reads them."""
    def convert(name: str, value: Any) -> float:
        try:
            return checked_duration(value, low, high)
        except ValueError as exc:
            raise VerifierConfigError(ENVIRONMENT[name], str(exc)) from None
    return convert


def _names(name: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise VerifierConfigError(ENVIRONMENT[name], "required (comma-separated for several)")
    return names


_CONVERT: dict[str, Callable[[str, Any], Any]] = {
    "leeway": _duration(*SHARED_RANGES[ENVIRONMENT["leeway"]]),
    "min_cache_seconds": _duration(0.1, 86400),
    "max_cache_seconds": _duration(*SHARED_RANGES[ENVIRONMENT["max_cache_seconds"]]),
    "max_staleness_seconds": _duration(0, 7 * 86400),
    "unknown_kid_cooldown_seconds": _duration(0.1, 3600),
    "http_timeout_seconds": _duration(0.1, 60),
    "token_cache_size": lambda n, v: int(_number(0, 10_000_000)(n, v)),
    "max_token_bytes": lambda n, v: int(_number(256, 1_048_576)(n, v)),
}


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    jwks_url: str | None = None  # only with a single issuer; else discovery per issuer
    leeway: float = 30.0
    redis_url: str | None = field(default=None, repr=False)  # may hold a password; none: memory and HTTP only
    redis_prefix: str = "signet:verifier:"
    cache_integrity_key: bytes | None = field(default=None, repr=False)
    min_cache_seconds: float = 60.0
    max_cache_seconds: float = 3600.0
    max_staleness_seconds: float = 3600.0
    unknown_kid_cooldown_seconds: float = 30.0
    http_timeout_seconds: float = 5.0
    token_cache_size: int = 4096
    max_token_bytes: int = 8192
    algorithms: tuple[str, ...] = tuple(ALGORITHMS)
    required_claims: tuple[str, ...] | None = None  # None: the profile's (RFC 9068's by default)
    # Pinned root keys (delegated signing): only keys they attest are used. None = any key.
    root_keys: RootPins | None = None
    # Hosts besides each issuer's own that a discovery document's jwks_uri may name.
    jwks_hosts: tuple[str, ...] = ()
    profile: str = "rfc9068"  # the profile of the `issuers` given directly (not from the file)
    issuers_file: str | None = None  # a TOML file of [[issuer]] tables (signet.verifier.trusted)
    # Every trusted issuer with its profile, audiences and algorithms: those given directly,
    # then the file's, then the `trusted_issuers` keyword's (tables or TrustedIssuer objects).
    trusted_issuers: tuple[TrustedIssuer, ...] = ()

    @classmethod
    def create(cls, issuer: str | Sequence[str], audience: str | Sequence[str],
               **options: Any) -> VerifierSettings:
        """Validate and normalise; raises VerifierConfigError naming the variable."""
        unknown = set(options) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown verifier options: {', '.join(sorted(unknown))}")
        extra = options.pop("trusted_issuers", None) or ()
        file_path = options.get("issuers_file") or None
        direct = bool(issuer) or not (file_path or extra)
        values: dict[str, Any] = {
            "issuers": _names("issuers", issuer) if direct else (),
            "audiences": _names("audiences", audience) if direct or audience else ()}
        for name, value in options.items():
            if value is None or value == "":
                continue
            convert = _CONVERT.get(name)
            values[name] = convert(name, value) if convert else value
        if "algorithms" in values:
            values["algorithms"] = _algorithms(values["algorithms"])
        if "jwks_hosts" in values:
            values["jwks_hosts"] = tuple(host.lower() for host in _names("jwks_hosts", values["jwks_hosts"]))
        if "required_claims" in values:
            values["required_claims"] = tuple(values["required_claims"])
        if "root_keys" in values and not isinstance(values["root_keys"], RootPins):
            try:
                values["root_keys"] = RootPins.parse(values["root_keys"])
            except RootPinError as exc:
                raise VerifierConfigError(ENVIRONMENT["root_keys"], str(exc)) from None
        if "cache_integrity_key" in values:
            values["cache_integrity_key"] = _integrity_key(values["cache_integrity_key"])
            if values["cache_integrity_key"] is None:
                del values["cache_integrity_key"]
        values["trusted_issuers"] = _trusted(values, file_path, extra)
        values["issuers"] = tuple(trusted.issuer for trusted in values["trusted_issuers"])
        settings = cls(**values)
        settings._check_urls()
        if settings.min_cache_seconds > settings.max_cache_seconds:
            raise VerifierConfigError(ENVIRONMENT["min_cache_seconds"],
                                      "must not exceed SIGNET_VERIFIER_MAX_CACHE_SECONDS")
        return settings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VerifierSettings:
        env = os.environ if environ is None else environ
        options = {name: env.get(var) for name, var in ENVIRONMENT.items()
                   if name not in ("issuers", "audiences") and env.get(var)}
        return cls.create(env.get(ENVIRONMENT["issuers"], ""), env.get(ENVIRONMENT["audiences"], ""),
                          **options)

    def _check_urls(self) -> None:
        if self.redis_url is not None:
            try:
                check_redis_url(self.redis_url)  # the issuer's parser too: signet/redis_url.py
            except ValueError as exc:
                raise VerifierConfigError(ENVIRONMENT["redis_url"], str(exc)) from None


def _trusted(values: dict[str, Any], file_path: str | None,
             extra: Sequence[Any]) -> tuple[TrustedIssuer, ...]:
    """Every trusted issuer: those of SIGNET_VERIFIER_ISSUER, then the file's, then `extra`."""
    algorithms = values.get("algorithms", tuple(ALGORITHMS))
    configured = "algorithms" in values
    audiences = values["audiences"]
    trusted: list[TrustedIssuer] = []
    direct = values["issuers"]
    if direct:
        profile = profile_named(values.get("profile", "rfc9068"), ENVIRONMENT["profile"])
        if values.get("required_claims") is not None:
            profile = profile.with_required(values["required_claims"])
        jwks_url = values.get("jwks_url")
        if jwks_url is not None:
            if len(direct) != 1:
                raise VerifierConfigError(ENVIRONMENT["jwks_url"], "needs exactly one issuer")
            problem = url_problem(jwks_url)
            if problem:
                raise VerifierConfigError(ENVIRONMENT["jwks_url"], problem)
        for issuer in direct:
            problem = url_problem(issuer) if jwks_url is None else None
            if problem:
                raise VerifierConfigError(ENVIRONMENT["issuers"], f"{problem} (keys are found by"
                                          " OpenID discovery; set SIGNET_VERIFIER_JWKS_URL otherwise)")
            trusted.append(TrustedIssuer(issuer, profile, audiences, algorithms,
                                         unnamed_key_algorithms(algorithms, configured), jwks_url,
                                         values.get("root_keys")))
    elif values.get("jwks_url") is not None:
        raise VerifierConfigError(ENVIRONMENT["jwks_url"], "needs SIGNET_VERIFIER_ISSUER (in the"
                                  " issuers file, give each issuer its own jwks_url)")
    tables = [(f"{file_path} [[issuer]] {i + 1}", entry, FILE_VARIABLE)
              for i, entry in enumerate(read_issuers_file(file_path))] if file_path else []
    tables += [(f"trusted_issuers[{i}]", entry, "trusted_issuers") for i, entry in enumerate(extra)]
    for where, entry, variable in tables:
        trusted.append(entry if isinstance(entry, TrustedIssuer) else trusted_issuer(
            entry, where, audiences=audiences, algorithms=algorithms,
            algorithms_configured=configured, variable=variable))
    seen: set[str] = set()
    for item in trusted:
        if item.issuer in seen:
            raise VerifierConfigError(FILE_VARIABLE if tables else ENVIRONMENT["issuers"],
                                      f"issuer {item.issuer!r} is trusted twice")
        seen.add(item.issuer)
    return tuple(trusted)


def _algorithms(value: Any) -> tuple[str, ...]:
    names = _names("algorithms", value)
    for name in names:
        if name not in ALGORITHMS:
            raise VerifierConfigError(ENVIRONMENT["algorithms"], f"unsupported algorithm {name!r};"
                                      f" choose from {', '.join(ALGORITHMS)}")
    return names


def _integrity_key(value: Any) -> bytes | None:
    """None when empty (as templating often leaves it): the same as unset."""
    if value is None:
        return None
    key = value.encode() if isinstance(value, str) else bytes(value)
    if not key.strip():
        return None
    if key != key.strip():  # instances that strip and instances that don't would disagree
        raise VerifierConfigError(ENVIRONMENT["cache_integrity_key"], "has leading or trailing"
                                  " whitespace (a newline at the end of a mounted file?); remove it")
    if len(key) < MIN_INTEGRITY_KEY_BYTES or len(set(key)) < MIN_DISTINCT_BYTES:
        raise VerifierConfigError(ENVIRONMENT["cache_integrity_key"],
                                  f"must be at least {MIN_INTEGRITY_KEY_BYTES} bytes, at least"
                                  f" {MIN_DISTINCT_BYTES} of them different")
    return key
