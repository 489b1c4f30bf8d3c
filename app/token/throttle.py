"""Failed client authentications, counted per client id and per source address.

A fixed window per counter: it opens at the first failure and lasts
SIGNET_AUTH_FAILURE_WINDOW_SECONDS; once a counter reaches its limit, requests for
that client id (or from that address) are refused with 429 until the window ends.
Counters live in Redis when configured (all replicas see the same counts), else in
process memory; during a Redis outage the memory counters take over.

Reserve, then check: an attempt takes its count atomically *before* the (slow) secret
check and gives it back only when it succeeds, so concurrent guesses cannot all pass a
limit they read at once. A refund returns exactly the counts its own attempt took.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..state.expiring import ExpiringMap
from ..state.redis_link import RedisLink, RedisUnavailable

MAX_MEMORY_COUNTERS = 100_000
# Decrement a live counter, never below zero, never creating one (its window is kept).
_REFUND = ("local n = tonumber(redis.call('GET', KEYS[1]) or '0')"
           " if n > 0 then redis.call('DECR', KEYS[1]) end")


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
        waits = [max(1, int(ttl + 0.999)) for (_, limit), (count, ttl) in zip(counters, states, strict=True)
                 if count >= limit]
        return max(waits) if waits else None

    async def reserve(self, client_id: str | None, address: str) -> int | None:
        """Count this attempt now; seconds to wait when that takes a counter past its limit
        (the attempt must then not be checked), else None (check it, then `refund` on success)."""
        counters = self._counters(client_id, address)
        window = self.limits.window_seconds
        states: list[tuple[int, float]] | None = None
        if self.redis is not None:
            link = self.redis

            async def increment(client: Any) -> list[tuple[int, float]]:
                # One transaction per counter: each touches one key, so it also runs on a
                # Redis Cluster, where the client's and the address's counters may live
                # on different nodes.
                found = []
                for key, _ in counters:
                    async with client.pipeline(transaction=True) as pipe:
                        pipe.set(link.key(key), 0, ex=window, nx=True)
                        pipe.incr(link.key(key))
                        pipe.ttl(link.key(key))
                        _, count, ttl = await pipe.execute()
                    found.append((int(count), float(max(ttl, 0))))
                return found

            try:
                states = await link.run(increment)
            except RedisUnavailable:
                states = None
        if states is None:
            states = [(self.memory.increment(key, window), self.memory.remaining(key))
                      for key, _ in counters]
        waits = [max(1, int(ttl + 0.999)) for (_, limit), (count, ttl) in zip(counters, states, strict=True)
                 if count > limit]
        if not waits:
            return None
        # Refused unchecked: give the counts back, so a refusal is no failure (the counts
        # that hold the limit belong to attempts that were checked and failed).
        await self.refund(client_id, address)
        return max(waits)

    async def refund(self, client_id: str | None, address: str) -> None:
        """Give back the counts `reserve` took for an attempt that succeeded."""
        keys = [key for key, _ in self._counters(client_id, address)]
        if self.redis is not None:
            link = self.redis

            async def decrement(client: Any) -> None:
                for key in keys:  # only while the window lives; never below zero
                    await client.eval(_REFUND, 1, link.key(key))

            try:
                await link.run(decrement)
                return
            except RedisUnavailable:
                pass
        for key in keys:
            self.memory.decrement(key)

    async def record_failure(self, client_id: str | None, address: str) -> None:
        """Count a failure without a reservation (kept for callers that check first)."""
        await self.reserve(client_id, address)

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
