"""Federated client authentication: a workload identity token as the client assertion.

A client assertion (RFC 7523 section 2.2) issued not by the client but by a *federation
issuer* the operator trusts (a Kubernetes cluster's service-account issuer, a SPIFFE trust
domain, GitHub Actions). The operator names those issuers in SIGNET_FEDERATION_ISSUERS_FILE;
clients declare in the clients file which of their tokens they are (federated_identity.py).

The token is verified by `signet.verifier` (the same key cache, shared through Redis, as
downstream verification), with the issuer's workload profile; then, here: the assertion's
lifetime, the profile's own rules (Kubernetes: the `kubernetes.io` claim agrees with `sub`,
a bound token within its bound lifetime), the registry match and, where the issuer is
configured for it, one use per `jti`. Every refusal reads the same to the caller ("client
authentication failed"); the audit line says why.

Replay: a pod presents the same projected token on every call until the kubelet rewrites
it (at 80% of its life), so Kubernetes issuers allow reuse by default, bounded by the
maximum assertion lifetime: a stolen token buys tokens for that client until it expires,
at most SIGNET_FEDERATION_MAX_ASSERTION_LIFETIME_SECONDS. GitHub Actions mints a token per
request: one use per `jti` by default.
"""

from __future__ import annotations

import logging
import math
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signet.bounded_file import FileReadError, read_bounded
from signet.verifier import KeysUnavailable, SignetError, TrustedIssuer, Verifier
from signet.verifier.errors import VerifierConfigError
from signet.verifier.trusted import trusted_issuer

from .assertions import unverified_issuer
from .federated_identity import FederatedIdentity
from .registry import Client, ClientRegistry
from .replay import ReplayCache

log = logging.getLogger("signet.token")

FILE_VARIABLE = "SIGNET_FEDERATION_ISSUERS_FILE"
ENTRY_KEYS = frozenset(("issuer", "profile", "jwks_url", "jwks_file", "algorithms", "replay",
                        "max_lifetime_seconds", "trust_domain"))
REPLAY_MODES = ("reuse", "once")
DEFAULT_REPLAY = {"kubernetes": "reuse", "spiffe": "reuse", "github-actions": "once"}
# What each kind of issuer signs with (their documentation); `algorithms` overrides.
DEFAULT_ALGORITHMS = {
    "kubernetes": ("RS256", "ES256"),
    "spiffe": ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"),
    "github-actions": ("RS256",),
}
LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 256
MAX_FILE_BYTES = 1_048_576


class FederationRefused(Exception):
    """Not authenticated; str() is the reason for the audit line, never for the caller."""


@dataclass(frozen=True, slots=True)
class FederationIssuer:
    """One trusted federation issuer and the rules that apply to its tokens."""

    trusted: TrustedIssuer
    replay: str  # "reuse" or "once"
    max_lifetime: int
    trust_domain: str | None = None  # spiffe: sub must be spiffe://<trust_domain>/...

    @property
    def issuer(self) -> str:
        return self.trusted.issuer

    @property
    def profile(self) -> str:
        return self.trusted.profile.name


def _fail(message: str) -> VerifierConfigError:
    return VerifierConfigError(FILE_VARIABLE, message)


def read_federation_file(path: Path, *, audiences: tuple[str, ...], max_lifetime: int,
                         own_issuer: str) -> tuple[FederationIssuer, ...]:
    """The `[[issuer]]` tables of the federation issuers file, checked."""
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except FileReadError as exc:
        raise _fail(str(exc)) from None
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(f"{str(path)!r} is not valid TOML: {exc}") from None
    if set(document) - {"issuer"} or not isinstance(document.get("issuer"), list):
        raise _fail(f"{str(path)!r}: expected [[issuer]] tables only")
    issuers = [federation_issuer(entry, f"{path} [[issuer]] {i + 1}", audiences=audiences,
                                 max_lifetime=max_lifetime, own_issuer=own_issuer)
               for i, entry in enumerate(document["issuer"])]
    seen: set[str] = set()
    for item in issuers:
        if item.issuer in seen:
            raise _fail(f"issuer {item.issuer!r} is trusted twice")
        seen.add(item.issuer)
    return tuple(issuers)


def federation_issuer(entry: Any, where: str, *, audiences: tuple[str, ...], max_lifetime: int,
                      own_issuer: str) -> FederationIssuer:
    if not isinstance(entry, dict):
        raise _fail(f"{where}: not a table")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise _fail(f"{where}: unknown key(s) {', '.join(sorted(unknown))};"
                    f" known: {', '.join(sorted(ENTRY_KEYS))}")
    if "profile" not in entry:
        raise _fail(f"{where}: 'profile' is required (kubernetes, spiffe or github-actions)")
    issuer = entry.get("issuer")
    if isinstance(issuer, str) and issuer.strip().rstrip("/") == own_issuer.rstrip("/"):
        raise _fail(f"{where}: Signet's own issuer is never a federation issuer: its access"
                    " tokens are not client assertions")
    verifier_entry = {key: entry[key] for key in ("issuer", "profile", "jwks_url", "jwks_file",
                                                  "algorithms") if key in entry}
    profile_name = str(entry["profile"]).strip().lower()
    if "algorithms" not in verifier_entry and profile_name in DEFAULT_ALGORITHMS:
        verifier_entry["algorithms"] = list(DEFAULT_ALGORITHMS[profile_name])
    trusted = trusted_issuer(verifier_entry, where, audiences=audiences, algorithms=(),
                             algorithms_configured=True, variable=FILE_VARIABLE, kind="workload")
    replay = entry.get("replay", DEFAULT_REPLAY.get(trusted.profile.name, "once"))
    if replay not in REPLAY_MODES:
        raise _fail(f"{where}: 'replay' must be one of {', '.join(REPLAY_MODES)}")
    own_max = entry.get("max_lifetime_seconds", max_lifetime)
    if type(own_max) is not int or not 1 <= own_max <= max_lifetime:
        raise _fail(f"{where}: 'max_lifetime_seconds' must be an integer from 1 to"
                    f" {max_lifetime} (SIGNET_FEDERATION_MAX_ASSERTION_LIFETIME_SECONDS)")
    trust_domain = entry.get("trust_domain")
    if trust_domain is not None and (trusted.profile.name != "spiffe" or not isinstance(
            trust_domain, str) or not trust_domain or "/" in trust_domain or ":" in trust_domain):
        raise _fail(f"{where}: 'trust_domain' is for the spiffe profile: a name such as example.org")
    return FederationIssuer(trusted, replay, own_max, trust_domain)


def _number(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(float(value)))


def _check_kubernetes(claims: dict[str, Any], now: float) -> None:
    """The `kubernetes.io` claim names the same service account as `sub`, and a token bound
    to a pod or secret names it fully; an expiry extended for legacy clients (`warnafter`,
    kube-apiserver --service-account-extend-token-expiration) is not honoured past its
    original end."""
    info = claims.get("kubernetes.io")
    if not isinstance(info, dict):
        raise FederationRefused("kubernetes.io claim is not an object")
    namespace, account = info.get("namespace"), info.get("serviceaccount")
    name = account.get("name") if isinstance(account, dict) else None
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise FederationRefused("kubernetes.io claim lacks namespace or serviceaccount.name")
    if claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
        raise FederationRefused("sub does not name the kubernetes.io service account")
    for bound in ("pod", "secret"):
        if bound in info:
            target = info[bound]
            if not (isinstance(target, dict) and isinstance(target.get("name"), str)
                    and isinstance(target.get("uid"), str)):
                raise FederationRefused(f"kubernetes.io {bound} binding lacks name or uid")
    warn_after = info.get("warnafter")
    if warn_after is not None:
        if not _number(warn_after):
            raise FederationRefused("kubernetes.io warnafter is not a number")
        if now > warn_after + LEEWAY_SECONDS:
            raise FederationRefused("past the bound token's own lifetime (warnafter)")


def _check_spiffe(claims: dict[str, Any], trust_domain: str | None) -> None:
    sub = claims.get("sub")
    prefix = f"spiffe://{trust_domain}/" if trust_domain else "spiffe://"
    if not isinstance(sub, str) or not sub.startswith(prefix) or len(sub) <= len(prefix):
        raise FederationRefused(f"sub is not a SPIFFE ID under {prefix}")


class Federation:
    """Authenticates clients by their federation issuers' tokens."""

    def __init__(self, issuers: Sequence[FederationIssuer], registry: ClientRegistry,
                 replay: ReplayCache, *, redis_url: str | None, redis_prefix: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuers = {item.issuer: item for item in issuers}
        self.registry = registry
        self.replay = replay
        self._clock = clock
        self.verifier: Verifier | None = None
        if issuers:
            integrity = os.environ.get("SIGNET_CACHE_INTEGRITY_KEY") or None
            self.verifier = Verifier(trusted_issuers=[item.trusted for item in issuers],
                                     redis_url=redis_url, redis_prefix=redis_prefix,
                                     cache_integrity_key=integrity, leeway=LEEWAY_SECONDS,
                                     clock=clock)

    def trusts(self, issuer: object) -> bool:
        return isinstance(issuer, str) and issuer in self.issuers

    async def aclose(self) -> None:
        if self.verifier is not None:
            await self.verifier.aclose()

    async def authenticate(self, assertion: str, client_id: str | None) -> tuple[Client, FederatedIdentity]:
        """The client this token authenticates, or FederationRefused (KeysUnavailable when
        the issuer's keys cannot be had: the caller answers 503, not 401)."""
        if self.verifier is None:
            raise FederationRefused("no federation issuer is configured")
        try:
            verified = await self.verifier.verify(assertion)
        except KeysUnavailable:
            raise
        except SignetError as exc:
            self._unknown_kid_while_unreadable(exc, assertion)
            raise FederationRefused(f"{exc.code}: {exc}") from None
        claims = verified.to_dict()
        issuer = self.issuers[verified.issuer]
        now = self._clock()
        self._check_lifetime(claims, issuer, now)
        if issuer.profile == "kubernetes":
            _check_kubernetes(claims, now)
        elif issuer.profile == "spiffe":
            _check_spiffe(claims, issuer.trust_domain)
        subject = claims.get("sub")
        if not isinstance(subject, str):
            raise FederationRefused("sub is not a string")
        matches = self.registry.federated_matches(issuer.issuer, subject, verified.audiences, claims)
        if client_id is not None:
            matches = [(c, i) for c, i in matches if c.client_id == client_id]
        clients = {client.client_id for client, _ in matches}
        if not clients:
            raise FederationRefused("no client declares this identity")
        if len(clients) > 1:
            raise FederationRefused("several clients declare this identity; send client_id")
        if issuer.replay == "once":
            await self._first_use(claims, issuer, now)
        return matches[0]

    def _unknown_kid_while_unreadable(self, exc: SignetError, assertion: str) -> None:
        """An unknown kid while the issuer's keys could not be read again (a JWKS file gone
        or invalid, the issuer down): the key may be one the operator is publishing, so the
        answer is "retry later" (503), not "you are not who you say" (401)."""
        if exc.code != "unknown_kid" or self.verifier is None:
            return
        issuer = unverified_issuer(assertion)
        if isinstance(issuer, str) and issuer in self.issuers:
            error = self.verifier.key_status(issuer).refresh_error
            if error is not None:
                raise KeysUnavailable(f"unknown kid and the keys of {issuer} cannot be read: {error}")

    def _check_lifetime(self, claims: dict[str, Any], issuer: FederationIssuer, now: float) -> None:
        exp, iat = claims["exp"], claims.get("iat")
        if iat is not None:
            if not _number(iat):
                raise FederationRefused("iat is not a number")
            if exp - iat > issuer.max_lifetime:
                raise FederationRefused(f"lives longer than {issuer.max_lifetime} s (exp - iat)")
        if exp - now > issuer.max_lifetime + LEEWAY_SECONDS:
            raise FederationRefused(f"expires more than {issuer.max_lifetime} s from now")

    async def _first_use(self, claims: dict[str, Any], issuer: FederationIssuer, now: float) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise FederationRefused("jti (1-256 characters) is required: this issuer's tokens are single-use")
        ttl = max(1, math.ceil(claims["exp"] + LEEWAY_SECONDS - now) + 1)
        # The issuer URL holds a ':', which no client id does: no collision with private_key_jwt.
        if not await self.replay.first_use(f"federation:{issuer.issuer}", jti, ttl):
            raise FederationRefused("jti already used (replay)")
