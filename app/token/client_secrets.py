"""Client secrets: generated here, stored only as argon2id hashes, checked in constant time.

Checking a secret costs one argon2id hash (tens of milliseconds and 64 MiB, on purpose).
Paying that on every token request would cap the issuer at a few dozen tokens per
second per core, so a successful check is remembered for SIGNET_CLIENT_AUTH_CACHE_SECONDS
under an HMAC of (client id, stored hash, presented secret) with a key drawn at random
when the process starts:

- the cache never holds a secret, and its keys are useless outside this process;
- a lookup is one HMAC-SHA256, and only a secret that already verified can hit it,
  so failures always pay the full argon2 price (and are throttled);
- the stored hash is part of the key, so rotating a secret (or removing the client)
  ends the old secret's cache entries at the next registry reload.

An unknown client id is checked against a dummy hash, so it costs what a wrong
secret costs and response times do not reveal which client ids exist.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

from ..state.expiring import ExpiringMap

SECRET_BYTES = 32  # 256 bits of randomness: guessing is hopeless, throttled or not
MAX_CACHED = 10_000
KDF_CONCURRENCY = 4  # argon2 checks in flight: each holds 64 MiB for a few tens of ms
# Admitted argon2 checks (in flight plus waiting), in all and per source address. Past either
# bound a request is answered at once (503, Retry-After) instead of queueing: a guess flood
# then delays a correct secret by at most KDF_ADMITTED / KDF_CONCURRENCY checks (well under
# a second), and one address cannot take the whole queue.
KDF_ADMITTED = 16
KDF_ADMITTED_PER_ADDRESS = 4
# Checks of registered clients without failures of their own have a lane of their own: one
# in flight per client at most (a second attempt already counts as that client's failure or
# joins the running check), so this bounds the lane without limiting any one client.
KDF_PRIORITY_ADMITTED = 64


class KdfBusy(Exception):
    """Too many secret checks admitted already: answer 503 at once, retry shortly."""


class CheckSlots:
    """A semaphore of `size` slots whose priority waiters are woken before all others."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(), deque())  # (priority, the rest)

    @asynccontextmanager
    async def hold(self, priority: bool) -> AsyncIterator[None]:
        if self._free > 0 and not (self._waiting[0] or self._waiting[1]):
            self._free -= 1
        else:
            turn = asyncio.get_running_loop().create_future()
            queue = self._waiting[0 if priority else 1]
            queue.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # handed a slot as it was cancelled: pass it on
                else:
                    queue.remove(turn)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the slot passes straight to the next waiter
                    return
        self._free += 1

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


def generate_secret() -> str:
    """URL-safe (no ':' and nothing to escape in HTTP Basic or a shell)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def is_secret_hash(value: str) -> bool:
    return value.startswith("$argon2id$")


def secret_matches(stored_hash: str, secret: str) -> bool:
    """argon2's own constant-time comparison; a malformed hash is just a mismatch."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (Argon2Error, InvalidHashError):
        return False


class SecretVerifier:
    """The issuer's secret check: dummy hash for unknown clients, cache of recent successes."""

    def __init__(self, cache_seconds: int) -> None:
        self.cache_seconds = cache_seconds
        self._mac = hmac.new(secrets.token_bytes(32), digestmod="sha256")  # per process
        self._verified: ExpiringMap[bool] = ExpiringMap(MAX_CACHED)
        self._dummy_hash = hash_secret(generate_secret())
        self._slots = CheckSlots(KDF_CONCURRENCY)
        self._admitted_priority = 0
        self._admitted = 0
        self._admitted_from: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[bool]] = {}

    def _cache_key(self, client_id: str, stored_hash: str, secret: str) -> str:
        # Length-prefixed, so no two (client id, hash, secret) share a message whatever they
        # hold; surrogatepass encodes every str. A copy of the keyed HMAC state skips the key
        # setup: together a third of the cost of json.dumps and hmac.digest, on every cache hit.
        message = f"{len(client_id)}:{client_id}{len(stored_hash)}:{stored_hash}{secret}"
        mac = self._mac.copy()
        mac.update(message.encode("utf-8", "surrogatepass"))
        return mac.hexdigest()

    def recently_verified(self, client_id: str, stored_hash: str | None, secret: str) -> bool:
        if stored_hash is None or not self.cache_seconds:
            return False
        return self._verified.get(self._cache_key(client_id, stored_hash, secret)) is not None

    def in_flight(self, client_id: str, stored_hash: str | None,
                  secret: str) -> asyncio.Task[bool] | None:
        """The check of this very (client, secret) already running, if any: joining it costs
        nothing, so the caller need not reserve a throttle count for it."""
        return self._running.get(self._cache_key(client_id, stored_hash or "", secret))

    async def verify(self, client_id: str, stored_hash: str | None, secret: str,
                     address: str = "", priority: bool = False) -> bool:
        """Full argon2id check; `stored_hash=None` (unknown client) costs the same and fails.

        Identical checks in flight share one argon2 run: a client whose replicas all ask for a
        token at once (every start-up, every cache expiry) costs one check, not one per
        request, and is not refused by the admission bounds. Only the same secret for the
        same client id can join a check, so a guess never learns another request's result.
        A `priority` check (a registered client without failures of its own) is admitted
        past the shared bounds, up to KDF_PRIORITY_ADMITTED, and takes the next free slot
        before any other waiting check. Raises KdfBusy, without checking, past the bounds."""
        key = self._cache_key(client_id, stored_hash or "", secret)
        running = self._running.get(key) or self._start(key, stored_hash, secret, address, priority)
        return await self.joined(running, stored_hash)

    async def joined(self, running: asyncio.Task[bool], stored_hash: str | None) -> bool:
        """The result of a running check (the check itself remembers a success)."""
        ok = await asyncio.shield(running)  # a caller that goes away does not cancel the others
        return ok and stored_hash is not None

    def _start(self, key: str, stored_hash: str | None, secret: str, address: str,
               priority: bool) -> asyncio.Task[bool]:
        if priority:
            if self._admitted_priority >= KDF_PRIORITY_ADMITTED:
                raise KdfBusy
            self._admitted_priority += 1
        else:
            from_address = self._admitted_from.get(address, 0)
            if self._admitted >= KDF_ADMITTED or from_address >= KDF_ADMITTED_PER_ADDRESS:
                raise KdfBusy
            self._admitted += 1
            self._admitted_from[address] = from_address + 1
        task = asyncio.create_task(self._check(stored_hash or self._dummy_hash, secret, priority))
        self._running[key] = task

        def done(finished: asyncio.Task[bool]) -> None:
            del self._running[key]
            # A success is remembered once, here, for every request that shared the check
            # (`key` is the cache's key: the stored hash is part of it).
            if (stored_hash is not None and self.cache_seconds and not finished.cancelled()
                    and finished.exception() is None and finished.result()):
                self._verified.set(key, True, self.cache_seconds)
            if priority:
                self._admitted_priority -= 1
                return
            self._admitted -= 1
            left = self._admitted_from[address] - 1
            if left:
                self._admitted_from[address] = left
            else:
                del self._admitted_from[address]

        task.add_done_callback(done)
        return task

    async def _check(self, stored_hash: str, secret: str, priority: bool) -> bool:
        async with self._slots.hold(priority):
            return await asyncio.to_thread(secret_matches, stored_hash, secret)
