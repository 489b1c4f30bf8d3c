"""Delegated signing: tokens signed by short-lived in-memory keys that the root key attests.

The root key (normally in KMS) signs one attestation per ephemeral key instead of one
signature per token. Each ephemeral key follows the key ring rules of signet.keyring:

    pending   attested, published (JWKS and Redis), not signing, for >= publish_lead
    active    signing, for `lifetime`
    retiring  published, not signing, until its last token has expired (retire_after)

The attestation's exp covers that whole published life. A key signs only once it has
been visible in Redis (so in every replica's JWKS) for publish_lead. When that cannot
be had (Redis down, KMS down at renewal), the current key signs until its active time
ends and then the root signs directly (it stays published): slower, never unsafe.

Private keys live only in this process's memory: never written to disk, Redis or logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from signet import signatures
from signet.algorithms import Algorithm, KeyFamily
from signet.attestation import (
    ATTESTATION_MEMBER,
    AttestationError,
    RootKey,
    attestation_input,
    root_from_public_key,
    verify_attestation,
)
from signet.jose import b64url_decode, compact
from signet.jwk import JWKError, jwk_algorithm, jwk_to_public_key
from signet.keys.attested_store import AttestedKeyStore, StoreUnavailable
from signet.keys.base import KeyBackend, KeyBackendError, PublishedKey, SigningKey
from signet.keys.local import generate_private_key

log = logging.getLogger("signet.delegated")
REPLICA_CLOCK_SKEW_SECONDS = 60.0  # another replica's clock may be this far ahead of ours


def attested_published_key(alg: Algorithm, public_key: Any, attestation: str) -> PublishedKey:
    """A PublishedKey whose JWK carries its attestation (unknown members are ignored by
    other JWK consumers, RFC 7517 section 4)."""
    published = PublishedKey(alg, public_key)
    object.__setattr__(published, "jwk", {**published.jwk, ATTESTATION_MEMBER: attestation})
    return published


@dataclass(frozen=True, slots=True)
class DelegatedTiming:
    """publish_lead and retire_after as in signet.keyring.RotationPolicy; lifetime = how
    long one ephemeral key signs; tick = how often the manager looks at Redis."""

    publish_lead: float
    retire_after: float
    lifetime: float = 3600.0
    tick: float = 10.0

    def __post_init__(self) -> None:
        if self.lifetime <= 0 or self.publish_lead < 0 or self.retire_after < 0 or self.tick <= 0:
            raise ValueError("delegated timing must be positive")

    @property
    def published_life(self) -> float:
        """From creation to unpublishing, when nothing is late; attestations cover it plus
        one lifetime of slack for a successor that became visible late."""
        return self.publish_lead + self.lifetime + self.retire_after


@dataclass(slots=True)
class EphemeralKey:
    """One ephemeral key of this replica. `private_key` never leaves this object."""

    published: PublishedKey
    private_key: signatures.PrivateKey = field(repr=False)
    attestation: str = field(repr=False)
    created_at: float
    expires: float  # the attestation's exp: unpublished then, at the latest
    visible_since: float | None = None  # first confirmed write to the shared store
    activated_at: float | None = None
    active_until: float | None = None

    @property
    def kid(self) -> str:
        return self.published.kid


class _CountingKey:
    """A SigningKey that counts its signatures into the manager's metrics."""

    def __init__(self, key: SigningKey, count: Callable[[], None]) -> None:
        self._key, self._count = key, count

    @property
    def published(self) -> PublishedKey:
        return self._key.published

    async def sign(self, data: bytes) -> bytes:
        signature = await self._key.sign(data)
        self._count()
        return signature


@dataclass(frozen=True, slots=True)
class _EphemeralSigner:
    published: PublishedKey
    private_key: signatures.PrivateKey = field(repr=False)

    async def sign(self, data: bytes) -> bytes:
        if self.published.alg.family is KeyFamily.RSA:
            return await asyncio.to_thread(signatures.sign, self.published.alg, self.private_key, data)
        return signatures.sign(self.published.alg, self.private_key, data)


class DelegatedBackend:
    """A KeyBackend: root key (any backend) + attested ephemeral keys shared through Redis.

    Metrics (plain attributes, for the issuer's /metrics):
      kms_sign_calls_saved       tokens signed by an ephemeral key (each one a root Sign saved)
      attestations_signed        root Sign calls spent on attestations
      root_signatures            tokens the root signed itself (fallback)
      ephemeral_key_age_seconds  age of the ephemeral key signing now (None: the root signs)
    """

    name = "delegated"

    def __init__(self, root: KeyBackend, issuer: str, alg: Algorithm, timing: DelegatedTiming,
                 store: AttestedKeyStore | None, *, rsa_key_bits: int = 2048,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.issuer = issuer
        self.alg = alg
        self.timing = timing
        self.store = store
        self.rsa_key_bits = rsa_key_bits
        self.clock = clock
        self.own: list[EphemeralKey] = []
        self.shared: dict[str, PublishedKey] = {}  # attestation -> key, other replicas included
        self._shared_until: dict[str, float] = {}
        self._shared_exp: dict[str, float] = {}  # attestation -> its verified exp
        self._root_checks: dict[str, RootKey] = {}
        self._refused: set[str] = set()  # attestations from Redis that did not verify (log once)
        self._signing: tuple[EphemeralKey, _CountingKey] | None = None
        self._store_down = False
        self.kms_sign_calls_saved = 0
        self.attestations_signed = 0
        self.root_signatures = 0
        self._last_creation_seconds = 0.0  # key generation + the root's Sign, for the last key

    # -- KeyBackend ------------------------------------------------------------------------

    async def open(self) -> None:
        await self.root.open()
        await self.tick()

    def signing_key(self) -> SigningKey:
        now = self.clock()
        current = self._signing
        if current is not None and current[0].active_until is not None and now < current[0].active_until:
            return current[1]
        key = self._choose(now)
        if key is None:
            self._signing = None
            return _CountingKey(self.root.signing_key(), self._count_root)
        self._signing = (key, _CountingKey(_EphemeralSigner(key.published, key.private_key),
                                           self._count_saved))
        return self._signing[1]

    def published_keys(self) -> list[PublishedKey]:
        """The root's keys, this replica's keys, and every other replica's live keys."""
        now = self.clock()
        keys = list(self.root.published_keys())
        keys += [k.published for k in self.own if now < k.expires]
        keys += [k for att, k in self.shared.items() if now < self._shared_until[att]]
        return keys

    async def check_reachable(self) -> None:
        """Ready while an ephemeral key signs; otherwise signing needs the root."""
        if self._choose(self.clock()) is None:
            await self.root.check_reachable()

    async def aclose(self) -> None:
        """Shut down: this replica's keys stay published exactly as long as their tokens
        may live (a key that never signed: two ticks, so every replica reads that)."""
        await self._shorten_own(self.clock())
        self.own.clear()
        self._signing = None
        if self.store is not None:
            await self.store.aclose()
        await self.root.aclose()

    async def _shorten_own(self, now: float) -> None:
        if self.store is None:
            return
        for key in self.own:
            if key.activated_at is None:
                until = now + 2 * self.timing.tick
            else:
                until = min(key.active_until or now, now) + self.timing.retire_after
            try:
                await self.store.shorten(key.attestation, min(until, key.expires))
            except StoreUnavailable:
                return  # they stay until their attestation's time: safe, only longer

    # -- metrics -----------------------------------------------------------------------------

    def _count_saved(self) -> None:
        self.kms_sign_calls_saved += 1

    def _count_root(self) -> None:
        self.root_signatures += 1

    @property
    def ephemeral_key_age_seconds(self) -> float | None:
        key = self._choose(self.clock())
        return None if key is None else self.clock() - key.created_at

    # -- the manager -------------------------------------------------------------------------

    def _choose(self, now: float) -> EphemeralKey | None:
        """The newest own key inside its active window, if any."""
        active = [k for k in self.own if k.activated_at is not None and k.active_until is not None
                  and k.activated_at <= now < k.active_until]
        return max(active, key=lambda k: k.activated_at or 0.0) if active else None

    async def tick(self) -> bool:
        """One pass: share, read, activate, create, drop. True when the JWKS changed."""
        before = {k.kid for k in self.published_keys()}
        now = self.clock()
        self.own = [k for k in self.own if now < k.expires]
        seen = await self._sync_store(now)
        self._activate_ready(now, seen)
        if self._successor_due(now):
            await self._create(now)
            # The clock again: the root's Sign may have taken seconds (KMS retries), and the
            # new key's publish lead starts when it reaches Redis, not when this pass began.
            await self._sync_store(self.clock())
        return {k.kid for k in self.published_keys()} != before

    async def run(self, on_change: Callable[[], Awaitable[None] | None] | None = None) -> None:
        """Tick forever; a failed pass is logged and retried at the next tick."""
        while True:
            await asyncio.sleep(self._next_sleep())
            try:
                changed = await self.tick()
            except Exception:  # the loop must survive anything a pass may raise
                log.exception("delegated key pass failed")
                continue
            if changed and on_change is not None:
                result = on_change()
                if result is not None:
                    await result

    def _next_sleep(self) -> float:
        """The tick interval, or sooner when a pending key may start signing or the signing
        key's successor is due."""
        now = self.clock()
        lead = self.timing.publish_lead
        times = [now + self.timing.tick]
        for key in self.own:
            if key.activated_at is None and key.visible_since is not None:
                times.append(key.visible_since + lead)
            if key.active_until is not None:
                times += [key.active_until - lead - self._successor_margin(), key.active_until]
        return max(0.01, min(t for t in times if t > now) - now)

    async def _sync_store(self, now: float) -> set[str] | None:
        """Write own keys, read everyone's; the kids seen in Redis, or None if it failed."""
        if self.store is None:  # one replica, no Redis: its own JWKS is the only publication
            for key in self.own:
                if key.visible_since is None:
                    key.visible_since = key.created_at
            return {k.kid for k in self.own}
        try:
            seen = self._read_shared(await self.store.live(now), now)
            for key in self.own:
                if key.kid not in seen:
                    key.visible_since = None  # lost from Redis (flushed): the lead starts again
                await self.store.put(key.attestation, key.expires, now)
        except StoreUnavailable as exc:
            if not self._store_down:  # once per outage, not once per pass
                self._store_down = True
                log.warning("Redis unavailable: delegated keys cannot be shared; the current key"
                            " signs until its time ends, then the root key signs",
                            extra={"fields": {"error": str(exc)}})
            return None
        if self._store_down:
            self._store_down = False
            log.info("Redis reachable again: delegated keys shared again")
        for key in self.own:  # each one is in Redis now: the put above succeeded
            if key.visible_since is None:
                key.visible_since = now
        return seen | {key.kid for key in self.own}

    def _read_shared(self, entries: dict[str, float], now: float) -> set[str]:
        """Publish the entries whose attestation verifies under our root (Redis is not
        trusted), each until its current score, never past its attestation's exp; returns
        the kids this read actually found."""
        shared: dict[str, PublishedKey] = {}
        until: dict[str, float] = {}
        roots = self._roots()
        for attestation, publish_until in entries.items():
            if attestation in self._refused:
                continue
            if attestation not in self.shared:
                try:
                    self.shared[attestation], self._shared_exp[attestation] = self._admit(
                        attestation, roots, now)
                except (AttestationError, JWKError) as exc:
                    reason = getattr(exc, "reason", "bad_jwk")
                    if reason != "not_yet_valid":  # another replica's clock may be ahead: retry
                        self._refused.add(attestation)
                    log.warning("ignoring a delegated key from Redis: its attestation does not"
                                " verify under the root", extra={"fields": {"reason": reason}})
                    continue
            shared[attestation] = self.shared[attestation]
            until[attestation] = min(publish_until, self._shared_exp[attestation])
        found = {key.kid for key in shared.values()}
        # A key read earlier stays published until its time even if a read misses it
        # (Redis flushed or failed over): its tokens may still be out.
        for attestation, key in self.shared.items():
            if attestation not in shared and now < self._shared_until.get(attestation, 0.0):
                shared[attestation], until[attestation] = key, self._shared_until[attestation]
        self.shared, self._shared_until = shared, until
        self._shared_exp = {att: self._shared_exp[att] for att in shared}
        self._refused &= set(entries)  # forget refusals once Redis drops them
        return found

    def _roots(self) -> dict[str, RootKey]:
        for published in self.root.published_keys():
            if published.kid not in self._root_checks:
                self._root_checks[published.kid] = root_from_public_key(published.public_key,
                                                                        published.jwk)
        return self._root_checks

    def _admit(self, attestation: str, roots: dict[str, RootKey],
               now: float) -> tuple[PublishedKey, float]:
        jwk = _attested_jwk(attestation)
        verified = verify_attestation(attestation, roots, self.issuer, jwk, now,
                                      REPLICA_CLOCK_SKEW_SECONDS)
        public_key = jwk_to_public_key(jwk)
        return (attested_published_key(jwk_algorithm(jwk, public_key), public_key, attestation),
                verified.expires)

    def _activate_ready(self, now: float, seen: set[str] | None) -> None:
        if seen is None:
            return  # no activation without confirming the key is still shared
        for key in sorted(self.own, key=lambda k: k.created_at):
            if (key.activated_at is None and key.visible_since is not None and key.kid in seen
                    and now - key.visible_since >= self.timing.publish_lead):
                # Its tokens must expire before its attestation does.
                latest_end = key.expires - self.timing.retire_after
                if now >= latest_end:
                    continue  # too late to sign at all; it ages out, a successor is made
                key.activated_at = now
                key.active_until = min(now + self.timing.lifetime, latest_end)
                for other in self.own:  # the previous key retires now
                    if other is not key and other.active_until is not None and other.active_until > now:
                        other.active_until = now
                log.info("delegated key active", extra={"fields": {
                    "kid": key.kid, "active_seconds": round(key.active_until - now, 1)}})

    def _successor_due(self, now: float) -> bool:
        """No usable pending key, and the signing key ends within publish_lead + one tick
        (or none signs)."""
        pending = [k for k in self.own if k.activated_at is None
                   and now < k.expires - self.timing.retire_after - self.timing.publish_lead]
        if pending:
            return False
        active = self._choose(now)
        # One tick early, so the successor is ready to sign before the current key ends.
        end = (active.active_until or now) if active else now
        return active is None or now >= end - self.timing.publish_lead - self._successor_margin()

    def _successor_margin(self) -> float:
        """How early a successor is attested: one tick, plus twice the time the last key took
        to create, so a slow root (KMS retrying) does not leave the root signing at a
        roll-over. At most half a lifetime: one freak Sign must not make every key retire
        early."""
        return self.timing.tick + min(2 * self._last_creation_seconds, self.timing.lifetime / 2)

    async def _create(self, now: float) -> None:
        """A new key pair in memory, attested by the root (one root Sign)."""
        private_key = generate_private_key(self.alg, self.rsa_key_bits)
        public = PublishedKey(self.alg, private_key.public_key())
        root = self.root.signing_key()
        expires = now + self.timing.published_life + self.timing.lifetime
        data = attestation_input(self.issuer, public.jwk, root.published.alg.name,
                                 root.published.kid, now, expires, now)
        try:
            signature = await root.sign(data)
        except KeyBackendError as exc:
            log.warning("root key could not attest a new delegated key; retrying next pass",
                        extra={"fields": {"error": str(exc)}})
            return
        self.attestations_signed += 1
        signed_at = self.clock()  # the key exists from here: its lead cannot start earlier
        self._last_creation_seconds = max(0.0, signed_at - now)
        if not signatures.verify(root.published.alg, root.published.public_key, data, signature):
            log.error("attestation failed its self-check; key discarded")
            return
        attestation = compact(data, signature)
        self.own.append(EphemeralKey(attested_published_key(self.alg, public.public_key, attestation),
                                     private_key, attestation, created_at=signed_at,
                                     expires=float(int(expires))))
        log.info("delegated key created", extra={"fields": {"kid": public.kid,
                                                             "alg": self.alg.name}})


def _attested_jwk(attestation: str) -> dict[str, Any]:
    """The jwk claim of an attestation (unverified: the caller verifies it next)."""
    try:
        payload = json.loads(b64url_decode(attestation.split(".")[1]))
        jwk = payload["jwk"]
    except (IndexError, KeyError, TypeError, ValueError):
        raise AttestationError("malformed", "no jwk claim") from None
    if not isinstance(jwk, dict):
        raise AttestationError("malformed", "jwk claim is not an object")
    return jwk


