"""Keeps every trusted issuer's keys fresh through three layers: memory, Redis, the issuer.

Everything here runs on the verifier's own event loop (see background.py); the request
path only reads the `IssuerKeys` objects this class replaces. Per issuer:

- one refresh at a time in this process (single-flight), and one fetch at a time in the
  fleet (a Redis lock; the others wait for its result and read it from Redis);
- a background task refreshes before the keys go stale; a pub/sub message from another
  instance makes every instance reload at once;
- an unknown kid causes one refetch, then a cooldown (in process and fleet-wide);
- when the issuer and Redis fail, the last good keys are used up to `max_staleness`.

Whoever can write to Redis must not be able to turn the clock back. An entry read from Redis
is applied only when it is at least as new as everything this instance has already applied
(a floor per issuer, in memory), when it is still within its own usable time, and when it
claims neither a fetch time in the future nor a lifetime beyond the policy; and a kid this
instance has seen removed comes back only from the issuer itself, never from Redis. With a
cache-integrity key that leaves a Redis writer replaying the newest genuine entry at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redis.exceptions import LockError, RedisError

from signet.algorithms import ALGORITHMS, Algorithm
from signet.channels import ISSUER_KEYS_CHANGED
from signet.verifier.errors import KeysUnavailable, UnknownKey, UnusableKey
from signet.verifier.fetch import FetchError, JwksFetcher
from signet.verifier.keys import (
    BoundKey,
    IssuerKeys,
    JwksError,
    KeyBinding,
    parse_jwks,
    published_kids,
    removed_kids,
    why_unusable,
)
from signet.verifier.roots import KeyTrust
from signet.verifier.stats import VerifierStats
from signet.verifier.store import RedisJwksStore, StoredJwks

log = logging.getLogger("signet.verifier")

DEFAULT_MAX_AGE = 300.0  # when the issuer sends no Cache-Control max-age
WAIT_POLL_SECONDS = 0.05  # how often an instance waiting on another's fetch looks at Redis
ANNOUNCED_REFETCH_INTERVAL = 1.0  # seconds: the issuer's change announcements, per issuer
# A Redis entry may claim a fetch time this far ahead of our clock (other instances' clocks
# differ a little); further ahead, it would raise the floor and block newer entries.
MAX_CLOCK_AHEAD = 60.0
MAX_REMEMBERED_REMOVALS = 1024  # removed kids remembered per issuer (oldest forgotten first)
# The change listener wakes this often to see whether the cache is closing: redis-py's pub/sub
# read can swallow a task's cancellation, and a listener that only waited for messages then
# never ended, holding aclose() (and the service's shutdown) for ever.
LISTEN_POLL_SECONDS = 1.0
CLOSE_WAIT_SECONDS = 5.0  # aclose() waits this long for background tasks, then lets them go


@dataclass(frozen=True, slots=True)
class CachePolicy:
    min_ttl: float
    max_ttl: float
    max_staleness: float
    unknown_kid_cooldown: float
    http_timeout: float

    def ttl(self, max_age: float | None) -> float:
        """The issuer's max-age, bounded by the configured minimum and maximum."""
        value = DEFAULT_MAX_AGE if max_age is None else max_age
        return min(max(value, self.min_ttl), self.max_ttl)

    @property
    def error_retry(self) -> float:
        """Pause after a failed refresh: never faster than a fresh set would be refreshed."""
        return min(5.0, self.min_ttl)

    @property
    def lock_timeout(self) -> float:
        return 2 * self.http_timeout + 1  # discovery plus the JWKS request


@dataclass(frozen=True, slots=True)
class IssuerSource:
    """Where one trusted issuer's keys come from, as configured."""

    keys: IssuerKeys  # what the request path reads (written only here)
    jwks_url: str | None = None  # None: found by discovery
    trust: KeyTrust | None = None  # pinned roots (SIGNET_VERIFIER_ROOT_KEYS)
    algorithms: Mapping[str, Algorithm] = field(default_factory=lambda: dict(ALGORITHMS))
    unnamed: tuple[Algorithm, ...] = ()  # what a key without `alg` may be bound to
    jwks_file: str | None = None  # a local file instead of any URL


@dataclass(slots=True)
class _IssuerCache:
    """The key cache's own bookkeeping for one issuer, beside the keys it serves."""

    jwks_url: str | None
    trust: KeyTrust | None
    binding: KeyBinding
    jwks_file: str | None = None
    refreshing: asyncio.Task[bool] | None = None  # the single-flight refresh under way
    kid_refetch: asyncio.Task[None] | None = None  # the unknown-kid refetch under way
    retry_after: float = 0.0  # no refresh before this after a failure (unless forced)
    announced_at: float = 0.0  # the issuer's last announcement acted on
    cooldown_until: float = 0.0  # no unknown-kid refetch before this (this instance)
    floor: float = 0.0  # the newest fetch time applied: never lowered
    removed_seen: dict[str, float] = field(default_factory=dict)  # kid -> when seen removed
    # The document whose kids `published` holds (see JwksCache.unknown_kid_error).
    published_in: str | None = None
    published: frozenset[str] = frozenset()
    unusable: dict[str, str | None] = field(default_factory=dict)  # kid -> why, for that document


class JwksCache:
    def __init__(self, sources: Mapping[str, IssuerSource], policy: CachePolicy,
                 fetcher: JwksFetcher, store: RedisJwksStore | None, stats: VerifierStats,
                 on_removed: Callable[[str, set[str]], None], clock: Callable[[], float]) -> None:
        self.issuers = {issuer: source.keys for issuer, source in sources.items()}
        self._per = {issuer: _IssuerCache(source.jwks_url, source.trust,
                                          KeyBinding(source.algorithms, source.unnamed),
                                          source.jwks_file)
                     for issuer, source in sources.items()}
        self.policy = policy
        self._fetcher = fetcher
        self._store = store
        self.stats = stats
        self._on_removed = on_removed
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._starting: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Warm-up: load every issuer now, then keep them fresh in the background (once)."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        self._closing = False
        results = await asyncio.gather(*(self.refresh(issuer, "warm-up") for issuer in self.issuers),
                                       return_exceptions=True)
        for issuer, result in zip(self.issuers, results, strict=True):
            if isinstance(result, BaseException):
                log.error("JWKS warm-up failed", exc_info=result, extra={"fields": {"issuer": issuer}})
        self._tasks = [asyncio.create_task(self._refresh_loop(issuer)) for issuer in self.issuers]
        if self._store is not None:
            self._tasks.append(asyncio.create_task(self._listen()))

    async def aclose(self) -> None:
        running = [*self._tasks, *(task for per in self._per.values()
                                    for task in (per.refreshing, per.kid_refetch) if task is not None)]
        self._closing = True
        for task in running:
            task.cancel()
        if running:
            done, stuck = await asyncio.wait(running, timeout=CLOSE_WAIT_SECONDS)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved: a task that failed while closing is not news
            if stuck:
                log.warning("verifier background tasks did not stop; closing without them",
                            extra={"fields": {"tasks": sorted(t.get_name() for t in stuck)}})
        self._tasks, self._starting = [], None
        await self._fetcher.aclose()
        if self._store is not None:
            await self._store.client.aclose()

    # -- what the request path asks for -------------------------------------------------

    async def ensure(self, issuer: str, kid: str) -> None:
        """Return once `kid` of `issuer` is usable, else raise UnknownKey or KeysUnavailable."""
        await self.start()  # on the first miss: warm up and start the refreshers
        state = self.issuers[issuer]
        if not self._usable(state):
            await self.refresh(issuer, "on demand")
            if not self._usable(state):
                raise KeysUnavailable(f"no usable keys for {issuer}")
        if kid not in state.keys:
            await self._unknown_kid(issuer, kid)

    def _usable(self, state: IssuerKeys) -> bool:
        return state.loaded and self._clock() <= state.usable_until

    async def _unknown_kid(self, issuer: str, kid: str) -> None:
        state, per = self.issuers[issuer], self._per[issuer]
        pending = per.kid_refetch or per.refreshing
        if pending is not None:  # a refresh is under way: its result may hold the kid
            await asyncio.shield(pending)
            if kid in state.keys:
                return
        now = self._clock()
        if now < per.cooldown_until:
            self.stats.unknown_kid_cooldown += 1
            raise self.unknown_kid_error(issuer, kid, f"unknown kid; refetch for {issuer} is cooling down")
        per.cooldown_until = now + self.policy.unknown_kid_cooldown
        log.info("unknown kid: looking for a newer key set",
                 extra={"fields": {"issuer": issuer, "kid": kid[:64]}})
        task = asyncio.create_task(self._refetch_for_unknown_kid(issuer))
        per.kid_refetch = task
        task.add_done_callback(lambda _: setattr(per, "kid_refetch", None))
        await asyncio.shield(task)
        if kid not in state.keys:
            raise self.unknown_kid_error(issuer, kid)

    def unknown_kid_error(self, issuer: str, kid: str,
                          detail: str = "the kid is not in the issuer's current key set") -> UnknownKey:
        """UnknownKey, or UnusableKey saying why when the issuer does publish this kid.

        Cold path only (a kid not among the usable keys). The kids a document names are
        read once per document, so a flood of made-up kids costs a set lookup each; only a
        kid the issuer does publish has its one JWK bound again, once per document, to say
        why it is unusable.
        """
        state, per = self.issuers[issuer], self._per[issuer]
        document = state.document
        if not document:
            return UnknownKey(detail)
        if per.published_in is not document:
            per.published_in, per.published = document, published_kids(document)
            per.unusable = {}
        if kid not in per.published:
            return UnknownKey(detail)
        if kid not in per.unusable:  # at most one entry per published kid (100 at most)
            per.unusable[kid] = why_unusable(document, kid, per.binding, per.trust)
        reason = per.unusable[kid]
        return UnusableKey(reason) if reason else UnknownKey(detail)

    async def _refetch_for_unknown_kid(self, issuer: str) -> None:
        """Newer keys from Redis if another instance has them, else one fetch per cooldown
        in the whole fleet (a Redis key claims the slot)."""
        state = self.issuers[issuer]
        if self._store is not None:
            entry = await self._read_store(issuer)
            if entry is not None and entry.fetched_at > state.fetched_at and self._apply(
                    issuer, entry, "redis"):
                return
            if not await self._claim_fleet_cooldown(issuer):
                self.stats.unknown_kid_cooldown += 1
                return
        self.stats.unknown_kid_refetches += 1
        await self.refresh(issuer, "unknown kid", force=True)

    async def _claim_fleet_cooldown(self, issuer: str) -> bool:
        assert self._store is not None
        try:
            return await self._store.claim_cooldown(issuer, self.policy.unknown_kid_cooldown)
        except RedisError:
            self.stats.redis_errors += 1
            return True  # Redis down: the in-process cooldown still bounds this instance

    # -- refresh ------------------------------------------------------------------------

    async def refresh(self, issuer: str, reason: str, force: bool = False) -> bool:
        """Single-flight refresh; True when a current key set was loaded."""
        per = self._per[issuer]
        task = per.refreshing
        if task is None:
            if not force and self._clock() < per.retry_after:
                return False  # failed a moment ago: don't hammer the issuer
            task = asyncio.create_task(self._refresh(issuer, reason, force))
            per.refreshing = task
            task.add_done_callback(lambda _: setattr(per, "refreshing", None))
        return await asyncio.shield(task)

    async def _refresh(self, issuer: str, reason: str, force: bool) -> bool:
        state = self.issuers[issuer]
        cached: StoredJwks | None = None
        redis_ok = self._store is not None
        if self._store is not None:
            try:
                cached = await self._store.read(issuer)
            except RedisError as exc:
                redis_ok = False
                self._redis_failed("read", issuer, exc)
            if (cached is not None and not force and cached.fresh_until > self._clock()
                    and cached.fetched_at >= state.fetched_at and self._apply(issuer, cached, "redis")):
                self.stats.redis_loads += 1
                state.refresh_error = None  # another instance reached the issuer
                return True
        try:
            fetched, keys, source = await self._fetch_shared(issuer, cached, redis_ok)
        except (FetchError, JwksError, RedisError) as exc:
            return self._fetch_failed(issuer, reason, exc, cached)
        if not self._apply(issuer, fetched, source, keys):
            return self._fetch_failed(issuer, reason, JwksError("the shared entry was refused"), None)
        self._per[issuer].retry_after = 0.0
        state.refresh_error = None
        return True

    def _fetch_failed(self, issuer: str, reason: str, exc: Exception, cached: StoredJwks | None) -> bool:
        state = self.issuers[issuer]
        now = self._clock()
        self.stats.jwks_fetch_errors += 1
        self._per[issuer].retry_after = now + self.policy.error_retry
        if (cached is not None and cached.fetched_at > state.fetched_at
                and now <= cached.fresh_until + self.policy.max_staleness):
            self._apply(issuer, cached, "redis (stale)")  # better than what this process has
        fields = {"issuer": issuer, "reason": reason, "error": str(exc)}
        state.refresh_error = str(exc) or type(exc).__name__
        if self._usable(state):
            self.stats.stale_if_error += 1
            log.warning("JWKS refresh failed; verifying with stale keys", extra={"fields": {
                **fields, "age_seconds": round(now - state.fetched_at, 1),
                "usable_for_seconds": round(state.usable_until - now, 1)}})
            return False
        self.stats.keys_unavailable += 1
        log.error("JWKS refresh failed and no usable keys remain", extra={"fields": fields})
        return False

    async def _fetch_shared(self, issuer: str, cached: StoredJwks | None,
                            redis_ok: bool) -> tuple[StoredJwks, dict[str, BoundKey], str]:
        """Fetch from the issuer, letting only one instance of the fleet do it at a time.
        Returns the entry, its keys and where it came from ("issuer" or "redis")."""
        if not redis_ok or self._store is None:
            return *await self._fetch_origin(issuer, cached), "issuer"
        lock = self._store.lock(issuer, self.policy.lock_timeout)
        try:
            acquired = await lock.acquire()
        except RedisError as exc:
            self._redis_failed("lock", issuer, exc)
            return *await self._fetch_origin(issuer, cached), "issuer"
        if not acquired:
            try:
                waited = await self._wait_for_other_instance(issuer, cached)
            except RedisError as exc:
                self._redis_failed("wait", issuer, exc)
                waited = None
            if waited is not None:
                return waited, self._parse(issuer, waited), "redis"
            return *await self._fetch_origin(issuer, cached), "issuer"  # the holder gave up or died
        try:
            # Another instance may have finished its fetch between our read and the lock.
            latest = await self._store.read(issuer)
            if latest is not None and latest.fresh_until > self._clock() and (
                    cached is None or latest.fetched_at > cached.fetched_at) and self._acceptable(
                    issuer, latest):
                self.stats.redis_loads += 1
                return latest, self._parse(issuer, latest), "redis"
            fetched, keys = await self._fetch_origin(issuer, cached)
            await self._publish(fetched, changed=cached is None or cached.document != fetched.document)
            return fetched, keys, "issuer"
        finally:
            with contextlib.suppress(LockError, RedisError):
                await lock.release()

    def _parse(self, issuer: str, entry: StoredJwks) -> dict[str, BoundKey]:
        per = self._per[issuer]
        return parse_jwks(entry.document, per.binding, self.issuers[issuer].keys, per.trust)[0]

    async def _wait_for_other_instance(self, issuer: str, before: StoredJwks | None) -> StoredJwks | None:
        assert self._store is not None
        self.stats.lock_waits += 1
        deadline = self._clock() + self.policy.lock_timeout
        while self._clock() < deadline:
            await asyncio.sleep(WAIT_POLL_SECONDS)
            # The lock first, then the entry: a holder writes before it releases, so once the
            # lock is seen free, the read after it sees the result. (Read first, and a holder
            # finishing between the two looks like one that died: a second origin fetch.)
            held = await self._store.lock_held(issuer)
            entry = await self._store.read(issuer)
            # Only a result newer than what we held before and than anything applied here,
            # and still fresh: an older entry written meanwhile is a replay, not a result.
            if (entry is not None and (before is None or entry.fetched_at > before.fetched_at)
                    and entry.fresh_until > self._clock() and self._acceptable(issuer, entry)):
                self.stats.redis_loads += 1
                return entry
            if not held:
                return None
        return None

    async def _fetch_origin(self, issuer: str,
                            previous: StoredJwks | None) -> tuple[StoredJwks, dict[str, BoundKey]]:
        state = self.issuers[issuer]
        # Revalidate whichever copy we hold; a 304 then means "still this document".
        base = previous if previous is not None and previous.fetched_at >= state.fetched_at else None
        document, etag = (base.document, base.etag) if base else (state.document, state.etag)
        jwks_file = self._per[issuer].jwks_file
        if jwks_file is not None:
            self.stats.jwks_fetches += 1
            result = self._fetcher.read_jwks_file(jwks_file)
        else:
            url = await self._jwks_url(issuer)
            self.stats.jwks_fetches += 1
            result = await self._fetcher.fetch_jwks(url, etag if document is not None else None)
        if result.document is None:
            self.stats.jwks_not_modified += 1
            assert document is not None
        else:
            document = result.document
        per = self._per[issuer]
        keys, problems = parse_jwks(document, per.binding, state.keys, per.trust)
        if problems and document != state.document:
            log.warning("JWKS keys skipped", extra={"fields": {"issuer": issuer, "problems": problems}})
        entry = StoredJwks(issuer, document, self._clock(), self.policy.ttl(result.max_age),
                           result.etag or etag)
        return entry, keys

    async def _jwks_url(self, issuer: str) -> str:
        per = self._per[issuer]
        if per.jwks_url is None:
            self.stats.discovery_fetches += 1
            per.jwks_url = await self._fetcher.discover_jwks_uri(issuer)
        return per.jwks_url

    async def _publish(self, entry: StoredJwks, changed: bool) -> None:
        assert self._store is not None
        try:
            await self._store.write(entry, entry.max_age + self.policy.max_staleness)
            if changed:
                await self._store.announce(entry.issuer)
        except RedisError as exc:
            self._redis_failed("write", entry.issuer, exc)

    async def _read_store(self, issuer: str) -> StoredJwks | None:
        assert self._store is not None
        try:
            return await self._store.read(issuer)
        except RedisError as exc:
            self._redis_failed("read", issuer, exc)
            return None

    def _redis_failed(self, action: str, issuer: str, exc: Exception) -> None:
        self.stats.redis_errors += 1
        log.warning("Redis unavailable; carrying on without it", extra={"fields": {
            "action": action, "issuer": issuer, "error": type(exc).__name__}})

    # -- the memory layer ---------------------------------------------------------------

    def _acceptable(self, issuer: str, entry: StoredJwks) -> bool:
        """Whether an entry read from Redis may replace what this instance holds: not older
        than the floor, not past its own usable time, no fetch time from the future, no
        lifetime beyond the policy."""
        now = self._clock()
        if entry.fetched_at < self._per[issuer].floor:
            return False
        if entry.fetched_at > now + MAX_CLOCK_AHEAD or entry.max_age > self.policy.max_ttl:
            return False
        return now <= entry.fresh_until + self.policy.max_staleness

    def _apply(self, issuer: str, entry: StoredJwks, source: str,
               keys: dict[str, BoundKey] | None = None) -> bool:
        """Make `entry` the issuer's key set; False when its document is unusable, or when it
        came from Redis and would turn this instance's clock back (see `_acceptable`)."""
        state, per = self.issuers[issuer], self._per[issuer]
        from_issuer = source in ("issuer", "preloaded")  # not Redis: the truth
        if not from_issuer and not self._acceptable(issuer, entry):
            self.stats.redis_entries_refused += 1
            log.warning("ignoring a Redis JWKS entry older than the keys in use", extra={"fields": {
                "issuer": issuer, "source": source, "fetched_at": entry.fetched_at}})
            return False
        if keys is None:
            try:
                keys, _ = parse_jwks(entry.document, per.binding, state.keys, per.trust)
            except JwksError as exc:
                log.warning("ignoring an unusable JWKS", extra={"fields": {
                    "issuer": issuer, "source": source, "error": str(exc)}})
                return False
        removed_seen = per.removed_seen
        if from_issuer:
            for kid in keys:  # the issuer itself published it again
                removed_seen.pop(kid, None)
        elif any(kid in removed_seen for kid in keys):
            self.stats.redis_entries_refused += 1
            log.warning("ignoring a Redis JWKS entry that brings back a removed key", extra={
                "fields": {"issuer": issuer, "source": source}})
            return False
        removed = removed_kids(state.keys, keys)
        changed = entry.document != state.document
        state.keys = keys  # first the keys, then the generation: see Verifier._verify_now
        state.document, state.etag, state.fetched_at = entry.document, entry.etag, entry.fetched_at
        state.fresh_until = entry.fresh_until
        state.usable_until = entry.fresh_until + self.policy.max_staleness
        per.floor = max(per.floor, entry.fetched_at)
        if removed:
            for kid in removed:
                removed_seen[kid] = entry.fetched_at
            while len(removed_seen) > MAX_REMEMBERED_REMOVALS:
                del removed_seen[next(iter(removed_seen))]
            state.generation += 1
            self.stats.keys_removed += len(removed)
            self._on_removed(issuer, removed)
        if changed:
            log.info("JWKS loaded", extra={"fields": {
                "issuer": issuer, "source": source, "kids": sorted(k[:64] for k in keys),
                "removed": sorted(k[:64] for k in removed)}})
        return True

    # -- background tasks ---------------------------------------------------------------

    async def _refresh_loop(self, issuer: str) -> None:
        while True:
            state, per = self.issuers[issuer], self._per[issuer]
            now = self._clock()
            due = max(state.fresh_until, per.retry_after)
            delay = due - now if state.loaded else (per.retry_after or now) - now
            # A little jitter so a fleet that loaded the same entry does not refresh in step.
            await asyncio.sleep(max(delay, WAIT_POLL_SECONDS) * random.uniform(1.0, 1.05))  # noqa: S311
            try:
                await self.refresh(issuer, "scheduled")
            except Exception:  # never let the refresher die
                log.exception("JWKS refresh task failed", extra={"fields": {"issuer": issuer}})
                await asyncio.sleep(self.policy.error_retry)

    async def _listen(self) -> None:
        """Reload an issuer's keys from Redis when another instance announces a change, and
        refetch them when the issuer itself announces one (its key ring changed)."""
        assert self._store is not None
        backoff = 0.2
        while not self._closing:
            pubsub = self._store.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._store.channel, ISSUER_KEYS_CHANGED)
                backoff = 0.2
                while not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=LISTEN_POLL_SECONDS)
                    if message is None:
                        continue
                    issuer = bytes(message.get("data") or b"").decode("utf-8", "replace")
                    if issuer not in self.issuers:
                        continue
                    channel = bytes(message.get("channel") or b"").decode("utf-8", "replace")
                    if channel == ISSUER_KEYS_CHANGED:
                        await self._refetch_announced(issuer)
                    else:
                        await self._reload_announced(issuer)
            except (RedisError, OSError) as exc:
                self._redis_failed("subscribe", "*", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def _refetch_announced(self, issuer: str) -> None:
        """The issuer says its keys changed: fetch them now (at most once a second, so a
        flood of messages costs the issuer little; the fetch itself is single-flight)."""
        now = self._clock()
        per = self._per[issuer]
        if now - per.announced_at < ANNOUNCED_REFETCH_INTERVAL:
            return
        per.announced_at = now
        self.stats.issuer_announcements += 1
        await self.refresh(issuer, "announced by the issuer", force=True)

    async def _reload_announced(self, issuer: str) -> None:
        entry = await self._read_store(issuer)
        state = self.issuers[issuer]
        # Never go back in time: a replayed older entry cannot bring a removed key back.
        if entry is not None and entry.fetched_at > state.fetched_at:
            self.stats.pubsub_reloads += 1
            self._apply(issuer, entry, "redis (announced)")
