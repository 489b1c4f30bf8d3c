"""`Verifier`: checks a token against keys held in memory; I/O only on a key-cache miss.

The request path, in order (`_verify_now`): size limit; the verified-token cache; split;
the header (cached by its exact segment, so a key's header is parsed once); the payload;
the trusted issuer and its key by kid; algorithm bound to that key; signature; claims.
Everything it reads is in process memory, written by the key cache on its own thread.

The caches here and in the key cache take no lock: each read or write is one dict or
OrderedDict operation, which the GIL makes atomic, and a reader that loses a race sees an
entry either before or after a change, both of them valid (see the KeyError handling below).
A free-threaded interpreter with the GIL off gives no such guarantee, so `signet.verifier`
refuses to import there (signet/verifier/_preflight.py) rather than race.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any, NamedTuple

import msgspec

from signet.algorithms import ALGORITHMS
from signet.redis_url import redis_from_url
from signet.verifier.background import IoThread
from signet.verifier.claims import ClaimPolicy, Claims, claims_class
from signet.verifier.errors import (
    AlgorithmMismatch,
    BadSignature,
    InvalidClaim,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    SignetError,
    TokenTooLarge,
    UntrustedIssuer,
    WrongType,
)
from signet.verifier.fetch import JwksFetcher
from signet.verifier.jwks_cache import CachePolicy, IssuerSource, JwksCache
from signet.verifier.keys import IssuerKeys
from signet.verifier.profiles import accepted_types
from signet.verifier.readiness import KeyStatus, Readiness, assess
from signet.verifier.roots import KeyTrust
from signet.verifier.settings import VerifierSettings
from signet.verifier.stats import VerificationCounts, VerifierStats
from signet.verifier.store import RedisJwksStore, StoredJwks
from signet.verifier.token import (
    Header,
    decode_segment,
    fast_parts,
    json_object,
    parse_header,
    split,
)
from signet.verifier.trusted import TrustedIssuer

log = logging.getLogger("signet.verifier")
_new_object = object.__new__

# A JSON object or a DecodeError (ValidationError for any other JSON value), in C.
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode

HEADER_CACHE_SIZE = 256  # distinct header segments remembered (one per key in practice)
# The verified-token cache is keyed by the token's last characters (signature bytes), and
# an entry holds the whole token, compared on a hit. Why: hashing a whole RS256 token
# (about 650 characters, once per fresh string) costs ~3,000 instructions (callgrind);
# slicing and hashing 32 characters of signature, then comparing, saves ~1,500 of them
# per verification. A forged token sharing the suffix of a cached one
# finds that entry, fails the comparison and is verified in full; it never evicts it.
TOKEN_KEY_CHARS = 32

# A verified-token cache entry: claims, valid-from, valid-until (leeway applied), the
# issuer's key state and its generation when verified, the kid, and the token.
# A tuple, not a class: the hot path unpacks it in one step (no attribute lookups); the cold
# paths read it by these names.
_Entry = tuple[Claims, float, float, IssuerKeys, int, str, str]
ENTRY_KEYS, ENTRY_KID, ENTRY_TOKEN = 3, 5, 6


class _IssuerChecks(NamedTuple):
    """One issuer's profile, resolved once: its claim policy, the header typ values it
    accepts (None: whatever the header check accepted), and its Claims class."""

    policy: ClaimPolicy
    types: frozenset[str] | None
    claims: type[Claims]

    @classmethod
    def of(cls, trusted: TrustedIssuer, leeway: float, accepted: frozenset[str]) -> _IssuerChecks:
        profile = trusted.profile
        return cls(ClaimPolicy(frozenset(trusted.audiences), leeway, None, profile),
                   None if profile.token_types == accepted else profile.token_types,
                   claims_class(profile))


class _KeysNeeded(Exception):
    """Internal: the request path needs the key cache (unknown kid, or keys past usable)."""

    def __init__(self, issuer: str, kid: str) -> None:
        super().__init__(issuer, kid)
        self.issuer, self.kid = issuer, kid


class Verifier:
    """Verify access tokens from one or more trusted issuers, each by its profile (RFC 9068,
    Signet's own, by default; see signet.verifier.profiles).

    `Verifier("https://issuer.example", "api://orders", redis_url="redis://...")`;
    every keyword is a field of VerifierSettings. `Verifier.from_env()` reads the same
    settings from SIGNET_VERIFIER_* variables.
    """

    def __init__(self, issuer: str | Sequence[str] | None = None,
                 audience: str | Sequence[str] | None = None, *,
                 settings: VerifierSettings | None = None,
                 clock: Callable[[], float] = time.time, **options: Any) -> None:
        if settings is None:
            settings = VerifierSettings.create(issuer or (), audience or (), **options)
        elif issuer or audience or options:
            raise TypeError("pass either settings or issuer, audience and options")
        self.settings = settings
        self._clock = clock
        self._stats = VerifierStats()
        self._outcomes = VerificationCounts()
        trusted = settings.trusted_issuers
        # The header is checked against what any trusted issuer accepts, before the payload
        # names the issuer; the key binding and _IssuerChecks then hold each issuer to its own.
        self._algorithms = {name: ALGORITHMS[name] for item in trusted for name in item.algorithms}
        self._types = accepted_types(item.profile for item in trusted)
        self._checks = {item.issuer: _IssuerChecks.of(item, settings.leeway, self._types)
                        for item in trusted}
        self._max_token_bytes = settings.max_token_bytes
        self._issuers = {item.issuer: IssuerKeys(item.issuer) for item in trusted}
        self._headers: dict[bytes, Header] = {}
        self._verified: OrderedDict[str, _Entry] = OrderedDict()
        self._verified_size = settings.token_cache_size
        self._io = IoThread()
        policy = CachePolicy(settings.min_cache_seconds, settings.max_cache_seconds,
                             settings.max_staleness_seconds, settings.unknown_kid_cooldown_seconds,
                             settings.http_timeout_seconds)
        self._wait_limit = 3 * policy.lock_timeout
        store = None
        if settings.redis_url:
            client = redis_from_url(settings.redis_url, timeout=settings.http_timeout_seconds,
                                    health_check_interval=30)
            store = RedisJwksStore(client, settings.redis_prefix, settings.cache_integrity_key,
                                   self._stats)
            if settings.cache_integrity_key is None:
                log.warning("SIGNET_REDIS_URL is set without SIGNET_CACHE_INTEGRITY_KEY: whoever"
                            " can write to that Redis can make this verifier trust a key of"
                            " theirs; set the same key on every verifier (docs/threat-model.md)")
        sources = {item.issuer: IssuerSource(
            self._issuers[item.issuer], item.jwks_url,
            KeyTrust(item.root_keys, item.issuer, settings.leeway, clock)
            if item.root_keys is not None else None,
            {name: ALGORITHMS[name] for name in item.algorithms},
            tuple(ALGORITHMS[name] for name in item.unnamed_key_algorithms),
            item.jwks_file) for item in trusted}
        fetcher = JwksFetcher(settings.http_timeout_seconds, settings.jwks_hosts)
        self._cache = JwksCache(sources, policy, fetcher, store, self._stats, self._forget_tokens,
                                clock)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Verifier:
        return cls(settings=VerifierSettings.from_env(environ))

    @property
    def stats(self) -> VerifierStats:
        return self._stats

    @property
    def outcomes(self) -> VerificationCounts:
        """Tokens accepted (from the token cache or by signature) and refused, by code."""
        return self._outcomes

    @property
    def issuers(self) -> tuple[str, ...]:
        return tuple(self._issuers)

    def known_kids(self, issuer: str) -> frozenset[str]:
        """The kids currently trusted for `issuer` (memory layer)."""
        return frozenset(self._issuers[issuer].keys)

    def key_status(self, issuer: str) -> KeyStatus:
        """When `issuer`'s keys were fetched, and until when they are fresh and usable."""
        state = self._issuers[issuer]
        return KeyStatus(frozenset(state.keys), state.fetched_at, state.fresh_until,
                         state.usable_until, state.refresh_error)

    def readiness(self) -> Readiness:
        """Whether this verifier can verify now, per issuer: a downstream service's /readyz
        (see signet.verifier.readiness). Reads memory only: no I/O."""
        return assess({issuer: self.key_status(issuer) for issuer in self._issuers},
                      self._clock(), self._stats)

    def is_cached(self, token: str) -> bool:
        """Whether `token` is in the verified-token cache (introspection for tests and metrics)."""
        entry = self._verified.get(token[-TOKEN_KEY_CHARS:])
        return entry is not None and entry[ENTRY_TOKEN] == token

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Warm-up: fetch every issuer's keys now and keep them fresh in the background.

        Failures are logged, not raised: the service starts, and requests get 503 until
        keys can be had.
        """
        try:
            await asyncio.wait_for(self._io.call_async(self._cache.start()), self._wait_limit)
        except TimeoutError:
            log.warning("verifier warm-up still running; requests will wait for keys")

    def start_sync(self) -> None:
        self._io.call(self._cache.start(), self._wait_limit)

    async def aclose(self) -> None:
        if self._io.running:
            await self._io.call_async(self._cache.aclose())
        self._io.stop()

    def close(self) -> None:
        if self._io.running:
            self._io.call(self._cache.aclose(), self._wait_limit)
        self._io.stop()

    def load_jwks(self, issuer: str, jwks: str | bytes) -> None:
        """Preload a JWKS document for a trusted issuer (offline use, benchmarks).

        It is treated as freshly fetched and replaced by the next refresh, if any runs.
        """
        if issuer not in self._issuers:
            raise ValueError(f"{issuer!r} is not a trusted issuer")
        document = jwks.decode() if isinstance(jwks, bytes) else jwks
        entry = StoredJwks(issuer, document, self._clock(), self._cache.policy.ttl(None), None)
        self._cache._apply(issuer, entry, "preloaded")

    # -- verification ---------------------------------------------------------------------

    async def verify(self, token: str) -> Claims:
        """Claims of a valid token, else a SignetError subclass (never another exception)."""
        try:
            try:
                return self._verify_now(token)
            except _KeysNeeded as need:
                loading = self._io.call_async(self._cache.ensure(need.issuer, need.kid))
                try:
                    await asyncio.wait_for(loading, self._wait_limit)
                except Exception as exc:
                    raise self._miss_error(exc) from None
            return self._verify_after_load(token)
        except SignetError as refused:  # costs nothing unless raised
            self._outcomes.refusal(refused.code)
            raise

    def verify_sync(self, token: str) -> Claims:
        """As `verify`, for synchronous code; blocks only on a key-cache miss."""
        try:
            try:
                return self._verify_now(token)
            except _KeysNeeded as need:
                try:
                    self._io.call(self._cache.ensure(need.issuer, need.kid), self._wait_limit)
                except Exception as exc:
                    raise self._miss_error(exc) from None
            return self._verify_after_load(token)
        except SignetError as refused:
            self._outcomes.refusal(refused.code)
            raise

    # Timed wrappers of verify and verify_sync (the class's methods, called directly, so the
    # steps live in one place): signet.verifier.timing installs them on an instance a metrics
    # collector observes, so an unobserved verifier runs the methods above untouched.
    _timing_observe: Callable[[bool, float], None]

    async def _timed_verify(self, token: str) -> Claims:
        started = perf_counter()
        try:
            claims = await Verifier.verify(self, token)
        except SignetError:
            self._timing_observe(False, perf_counter() - started)
            raise
        self._timing_observe(True, perf_counter() - started)
        return claims

    def _timed_verify_sync(self, token: str) -> Claims:
        started = perf_counter()
        try:
            claims = Verifier.verify_sync(self, token)
        except SignetError:
            self._timing_observe(False, perf_counter() - started)
            raise
        self._timing_observe(True, perf_counter() - started)
        return claims

    def _miss_error(self, exc: Exception) -> SignetError:
        """What a failed key-cache load means for the token being verified."""
        if isinstance(exc, SignetError):
            return exc
        if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
            return KeysUnavailable("timed out waiting for the issuer's keys")
        log.error("key cache failed unexpectedly", exc_info=exc)
        return KeysUnavailable("the key cache failed")

    def _verify_after_load(self, token: str) -> Claims:
        try:
            return self._verify_now(token)
        except _KeysNeeded as need:  # removed again meanwhile, or still unusable
            state = self._issuers[need.issuer]
            if self._clock() > state.usable_until:
                raise KeysUnavailable(f"no usable keys for {need.issuer}") from None
            raise self._cache.unknown_kid_error(need.issuer, need.kid) from None

    def _verify_now(self, token: str) -> Claims:
        if type(token) is not str:
            raise MalformedToken("token is not a string")  # as `split` says
        if len(token) > self._max_token_bytes:
            raise TokenTooLarge(f"token longer than {self._max_token_bytes} characters")
        now = self._clock()
        verified = self._verified
        cache_key = token[-TOKEN_KEY_CHARS:]
        entry = verified.get(cache_key)
        if entry is not None and entry[6] == token:
            claims, not_before, not_after, cached_state, generation, _, _ = entry
            if (not_before <= now < not_after and generation == cached_state.generation
                    and now <= cached_state.usable_until):
                try:
                    verified.move_to_end(cache_key)
                except KeyError:  # removed by another thread this instant
                    pass
                self._outcomes.token_cache_hits += 1
                return claims
            verified.pop(cache_key, None)  # expired or key gone: the full checks say which

        # Usual case: a well-formed token whose header segment was seen before, split and
        # decoded in one pass. Else one step at a time, each refusing with its own error.
        parts = fast_parts(token)
        header = self._headers.get(parts[1]) if parts is not None else None
        if parts is not None and header is not None:
            signed, _, payload_json, signature = parts
            signature_segment = None
        else:
            signed, header_segment, payload_segment, signature_segment = split(token)
            header = self._headers.get(header_segment)
            if header is None:
                header = parse_header(header_segment, self._algorithms, self._types)
                if len(self._headers) >= HEADER_CACHE_SIZE:
                    self._headers.clear()  # bounded; refilled by the next tokens
                self._headers[header_segment] = header
            payload_json = decode_segment(payload_segment, "payload")
        try:  # json_object's work without its call frame; it names any failure
            payload = _decode_payload(payload_json)
        except (msgspec.DecodeError, ValueError, RecursionError):
            payload = json_object(payload_json, "payload")

        issuer = payload.get("iss")
        if type(issuer) is not str:
            raise MissingClaim("missing claim 'iss'") if issuer is None else InvalidClaim(
                "claim 'iss' must be a string")
        state = self._issuers.get(issuer)
        if state is None:
            raise UntrustedIssuer()
        policy, types, claims_type = self._checks[issuer]
        if types is not None and header.typ not in types:
            raise WrongType()
        generation = state.generation  # read before the keys: see JwksCache._apply
        key = state.keys.get(header.kid)
        if key is None or now > state.usable_until or now >= key.not_after:
            raise _KeysNeeded(issuer, header.kid)
        if key.alg is not header.alg:
            key = key.alternates.get(header.alg)  # an RSA key without alg, bound to several
            if key is None:
                raise AlgorithmMismatch(f"header alg {header.alg.name} is not the key's")
        if signature_segment is not None:
            signature = decode_segment(signature_segment, "signature")
        if not key.check(signed, signature):
            raise BadSignature()
        not_before, not_after = policy.check(payload, now)

        # Claims.of's two steps without its bound classmethod and call frame (about 1,000
        # instructions a miss under callgrind).
        claims = _new_object(claims_type)
        claims._data = payload
        if self._verified_size:
            if len(verified) >= self._verified_size:
                try:
                    verified.popitem(last=False)
                except KeyError:
                    pass
            key_until = key.not_after  # a conditional, not min(): no builtin call per token
            verified[cache_key] = (claims, not_before,
                                   not_after if not_after < key_until else key_until, state,
                                   generation, header.kid, token)
        self._outcomes.signatures_verified += 1
        return claims

    def _forget_tokens(self, issuer: str, kids: set[str]) -> None:
        """Drop verified tokens signed by removed keys (called by the key cache)."""
        state = self._issuers[issuer]
        for cache_key, entry in list(self._verified.items()):
            if entry[ENTRY_KEYS] is state and entry[ENTRY_KID] in kids:
                self._verified.pop(cache_key, None)
