"""A Redis lock that lets exactly one issuer replica change a shared key ring at a time.

redis-py's Lock (SET NX PX, released by a compare-and-delete script) does the locking.
Each holder also draws a fencing number (INCR); writers stamp it on what they write and
check that they still own the lock before each write, so a holder that stalled past the
lock's lifetime stops instead of racing its successor.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import LockError, RedisError

from signet.keys.base import KeyUnavailableError

log = logging.getLogger("signet.rotation")


class RedisRingLock:
    def __init__(self, client: redis.Redis, name: str, ttl: float = 30.0, wait: float = 60.0) -> None:
        self.client = client
        self.name = name
        self.ttl = ttl
        self.wait = wait
        self.fence = 0
        self._held: redis.lock.Lock | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        lock = self.client.lock(self.name, timeout=self.ttl, blocking_timeout=self.wait,
                                thread_local=False)
        try:
            if not await lock.acquire():
                raise KeyUnavailableError(f"key ring lock {self.name} busy for {self.wait:g}s")
            self.fence = int(await self.client.incr(self.name + ":fence"))
        except RedisError as exc:
            raise KeyUnavailableError(f"key ring lock unavailable: {type(exc).__name__}") from exc
        self._held = lock
        try:
            yield self.fence
        finally:
            self._held = None
            try:
                await lock.release()
            except LockError:
                log.warning("key ring lock expired while held; the next pass re-checks the ring")
            except RedisError:
                log.warning("key ring lock not released (Redis unreachable); it expires by itself")

    async def aclose(self) -> None:
        await self.client.aclose()

    async def check(self) -> None:
        """Raise unless this process still holds the lock (call right before each write)."""
        try:
            owned = self._held is not None and await self._held.owned()
        except RedisError as exc:
            raise KeyUnavailableError("cannot confirm the key ring lock") from exc
        if not owned:
            raise KeyUnavailableError("lost the key ring lock; not writing")
