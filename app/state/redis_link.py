"""The issuer's optional Redis: shared counters and replay records across replicas.

Redis is a shared cache, never required for issuing: when it fails, callers fall back
to process memory, the outage is logged once (and its end once), and Redis is retried
after a short pause instead of on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis

from signet.redis_url import redis_from_url

from ..settings import ConfigurationError

log = logging.getLogger("signet.redis")
T = TypeVar("T")

RETRY_AFTER_FAILURE_SECONDS = 5.0
TIMEOUT_SECONDS = 0.5  # connect, and each command
DEADLINE_SECONDS = 1.0  # one operation, retries included


class RedisUnavailable(Exception):
    """Redis failed or is paused after a failure: use process memory instead."""


class RedisLink:
    def __init__(self, url: str, prefix: str) -> None:
        try:
            self.client: Any = redis_from_url(url, timeout=TIMEOUT_SECONDS)
        except ValueError as exc:
            raise ConfigurationError(f"SIGNET_REDIS_URL: {exc}") from None
        self.prefix = prefix
        self._paused_until = 0.0
        self._down = False

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def run(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        if time.monotonic() < self._paused_until:
            raise RedisUnavailable
        try:
            # One bound for the whole operation: a cluster with a dead node retries and
            # rediscovers inside redis-py, which socket timeouts alone do not bound.
            result = await asyncio.wait_for(operation(self.client), DEADLINE_SECONDS)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            self._paused_until = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
            if not self._down:
                self._down = True
                log.warning("redis unavailable: throttling and replay checks use process memory",
                            extra={"fields": {"reason": type(exc).__name__}})
            raise RedisUnavailable from None
        if self._down:
            self._down = False
            log.info("redis reachable again: throttling and replay checks shared again")
        return result

    async def aclose(self) -> None:
        await self.client.aclose()
