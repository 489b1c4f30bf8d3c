"""Failed client authentications, counted per client id and per source address.

A fixed window per counter: it opens at the first failure and lasts
SIGNET_AUTH_FAILURE_WINDOW_SECONDS; once a counter reaches its limit, requests for
that client id (or from that address) are refused with 429 until the window ends.
Counters live in Redis when configured (all replicas see the same counts), else in
process memory; during a Redis outage the memory counters take over.

Reserve, then check: an attempt takes its count atomically *before* the (slow) secret
check and gives it back only when it succeeds, so concurrent guesses cannot all pass a
limit they read at once. A refund returns exactly the counts its own attempt took, and
only to the window it took them in: an attempt still running when its window ended (a
slow check, a key fetch waiting on an issuer that is down) must not take a count off the
failures of the window opened after it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from ..state.expiring import ExpiringMap
from ..state.redis_link import RedisLink, RedisUnavailable

MAX_MEMORY_COUNTERS = 100_000
# Decrement a live counter, never below zero, never creating one; a counter back at zero is
# deleted (nothing failed: no window to keep, no key left behind by refused attempts).
# ARGV[1]: the most milliseconds the reserved window can have left; a counter with more is
# a later window (opened after the reserved one ended) and keeps its counts.
_REFUND = ("local n = tonumber(redis.call('GET', KEYS[1]) or '0')"
           " if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[1]) then return end"
           " if n > 1 then redis.call('DECR', KEYS[1]) elseif n == 1 then redis.call('DEL', KEYS[1]) end")


@dataclass(frozen=True, slots=True)
class Reservation:
    refused: int | None  # seconds to wait: refused unchecked, counts given back
    clean: bool  # a registered client without failures of its own in the window
    # The counters this attempt took and when each one's window ends (time.monotonic()).
    taken: tuple[tuple[str, float], ...] = ()


def _wait(ttl: float) -> int:
    return max(1, int(ttl + 0.999))


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    per_client: int
    per_address: int
    window_seconds: int


def _counter(kind: str, value: str) -> str:
    # Hashed: a client id or address of any spelling becomes a short, safe key.
    return f"authfail:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class FailureThrottle:
    def __init__(self, limits: ThrottleLimits, redis: RedisLink | None = None) -> None:
        self.limits = limits
        self.redis = redis
        self.memory: ExpiringMap[int] = ExpiringMap(MAX_MEMORY_COUNTERS)

    def _counters(self, client_id: str | None, address: str) -> list[tuple[str, int]]:
        counters = [(_counter("address", address), self.limits.per_address)]
        if client_id is not None:
            counters.append((_counter("client", client_id), self.limits.per_client))
        return counters

    async def retry_after(self, client_id: str | None, address: str) -> int | None:
        """Seconds to wait when a counter is at its limit, else None."""
        counters = self._counters(client_id, address)
        states = await self._read(counters)
        waits = [_wait(ttl) for (_, limit), (count, ttl) in zip(counters, states, strict=True)
                 if count >= limit]
        return max(waits) if waits else None

    async def reserve(self, client_id: str | None, address: str,
                      registered: bool = False) -> Reservation:
        """Count this attempt now. `refused` is the seconds to wait when that takes a counter
        past its limit (the attempt must then not be checked); else check it, then `refund`
        on success.

        A registered client with no failure of its own in the window (`clean`) is not
        refused for its address's failures: behind one proxy or NAT address, someone else's
        guesses must not lock out every client. Its attempt still counts at the address.
        An attempt refused at its address takes no client count (a flood of made-up ids
        refused there leaves nothing behind)."""
        client_key = _counter("client", client_id) if client_id is not None else None
        address_key = _counter("address", address)
        taken: list[tuple[str, float]] = []
        clean = False
        try:
            if registered and client_key is not None:
                count, ttl = await self._take(client_key, taken)
                if count > self.limits.per_client:
                    return Reservation(_wait(ttl), False)
                clean = count == 1
            count, ttl = await self._take(address_key, taken)
            if count > self.limits.per_address and not clean:
                return Reservation(_wait(ttl), False)
            if client_key is not None and all(key != client_key for key, _ in taken):
                count, ttl = await self._take(client_key, taken)
                if count > self.limits.per_client:
                    return Reservation(_wait(ttl), False)
            kept = tuple(taken)
            taken.clear()  # kept: the attempt is checked
            return Reservation(None, clean, kept)
        finally:
            # Refused unchecked: give the counts back, so a refusal is no failure (the counts
            # that hold the limit belong to attempts that were checked and failed).
            for key, ends in taken:
                await self._decrement(key, ends)

    async def refund(self, reservation: Reservation) -> None:
        """Give back the counts `reserve` took for an attempt that succeeded (or was not
        checked), to the windows it took them in: a counter whose window ended meanwhile
        and was opened again holds other attempts' failures, not this one's."""
        for key, ends in reservation.taken:
            await self._decrement(key, ends)

    async def _take(self, key: str, taken: list[tuple[str, float]]) -> tuple[int, float]:
        count, ttl = await self._increment(key)
        taken.append((key, time.monotonic() + ttl))
        return count, ttl

    async def _increment(self, key: str) -> tuple[int, float]:
        """(count, seconds left in its window) after counting one more."""
        window = self.limits.window_seconds
        if self.redis is not None:
            link = self.redis

            async def increment(client: Any) -> tuple[int, float]:
                # One transaction per counter: each touches one key, so it also runs on a
                # Redis Cluster, where the client's and the address's counters may live
                # on different nodes.
                async with client.pipeline(transaction=True) as pipe:
                    pipe.set(link.key(key), 0, ex=window, nx=True)
                    pipe.incr(link.key(key))
                    pipe.pttl(link.key(key))
                    _, count, ttl = await pipe.execute()
                return int(count), max(ttl, 0) / 1000

            try:
                return await link.run(increment)
            except RedisUnavailable:
                pass
        return self.memory.increment(key, window), self.memory.remaining(key)

    async def _decrement(self, key: str, ends: float) -> None:
        """One count back, unless the counter now belongs to a window opened after the one
        ending at `ends`: that one has a full window left where this one had at most the
        rest of its own (half a window is the margin for clocks and round trips)."""
        most_left = ends - time.monotonic() + self.limits.window_seconds / 2
        if self.redis is not None:
            link = self.redis

            async def decrement(client: Any) -> None:
                await client.eval(_REFUND, 1, link.key(key), int(most_left * 1000))

            try:
                await link.run(decrement)
                return
            except RedisUnavailable:
                pass
        if self.memory.remaining(key) <= most_left:
            self.memory.decrement(key)

    async def record_failure(self, client_id: str | None, address: str) -> None:
        """Count a failure without a reservation (kept for callers that check first)."""
        await self.reserve(client_id, address)  # counts stay unless refused

    async def _read(self, counters: list[tuple[str, int]]) -> list[tuple[int, float]]:
        if self.redis is not None:
            link = self.redis

            async def read(client: Any) -> list[Any]:
                async with client.pipeline(transaction=False) as pipe:
                    for key, _ in counters:
                        pipe.get(link.key(key))
                        pipe.ttl(link.key(key))
                    result: list[Any] = await pipe.execute()
                    return result

            try:
                raw = await link.run(read)
                return [(int(raw[i] or 0), float(max(raw[i + 1], 0))) for i in range(0, len(raw), 2)]
            except RedisUnavailable:
                pass
        return [(self.memory.get(key) or 0, self.memory.remaining(key)) for key, _ in counters]
