"""Single use of client assertion `jti`s (RFC 7523 section 3, item 7).

Recorded in Redis when configured, so an assertion accepted by one replica is refused
by all others; in process memory otherwise (and during a Redis outage, when a replay
to another replica is no longer caught: the assertion's short lifetime bounds that).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..state.expiring import ExpiringMap
from ..state.redis_link import RedisLink, RedisUnavailable

MAX_MEMORY_ENTRIES = 100_000


class ReplayCache:
    def __init__(self, redis: RedisLink | None = None) -> None:
        self.redis = redis
        self.memory: ExpiringMap[bool] = ExpiringMap(MAX_MEMORY_ENTRIES)

    async def first_use(self, client_id: str, jti: str, ttl_seconds: int) -> bool:
        """True the first time this client presents this jti within `ttl_seconds`."""
        digest = hashlib.sha256(f"{client_id}\0{jti}".encode()).hexdigest()
        ttl = max(1, ttl_seconds)
        if self.redis is not None:
            key = self.redis.key("jti", digest)

            async def claim(client: Any) -> bool:
                return bool(await client.set(key, 1, ex=ttl, nx=True))

            try:
                return await self.redis.run(claim)
            except RedisUnavailable:
                pass
        return self.memory.add(digest, True, ttl)
