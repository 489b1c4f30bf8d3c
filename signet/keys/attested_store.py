"""Every replica's live ephemeral keys, shared through Redis as their attestations.

One sorted set per issuer: member = the attestation (compact JWS, which carries the
public JWK), score = the time until which the key must stay published. Entries expire
by score, so a replica that crashes leaves its keys published exactly as long as its
tokens may live, and no longer.

Redis is a cache, not a source of trust: whatever is read back is verified under the
root key before it is published, so a Redis writer cannot add a key to the JWKS.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from redis.exceptions import RedisError

TIMEOUT_SECONDS = 1.0


class StoreUnavailable(Exception):
    """Redis did not answer; the caller keeps what it knew and tries again later."""


class AttestedKeyStore:
    def __init__(self, client: Any, prefix: str, issuer: str) -> None:
        self.client = client
        # The issuer URL is hashed: any characters, bounded length, one set per issuer.
        digest = hashlib.sha256(issuer.encode()).hexdigest()[:32]
        self.key = f"{prefix}delegated-keys:{digest}"

    @classmethod
    def from_url(cls, url: str, prefix: str, issuer: str) -> AttestedKeyStore:
        """Any URL form SIGNET_REDIS_URL takes (Cluster and Sentinel included): every command
        here touches the one sorted set, so it works the same on a cluster."""
        from signet.redis_url import redis_from_url

        return cls(redis_from_url(url, timeout=TIMEOUT_SECONDS), prefix, issuer)

    async def put(self, attestation: str, publish_until: float, now: float | None = None) -> None:
        """Add (or keep) one key until `publish_until`; the set lives as long as its last key.
        Entries whose time is over (before `now`) are dropped on the way."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zadd(self.key, {attestation: publish_until})
                pipe.zremrangebyscore(self.key, "-inf", time.time() if now is None else now)
                pipe.expireat(self.key, int(publish_until) + 1, gt=True)
                pipe.expireat(self.key, int(publish_until) + 1, nx=True)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None

    async def shorten(self, attestation: str, publish_until: float) -> None:
        """Bring one key's publish-until forward (never later; never re-adds a key)."""
        try:
            await self.client.zadd(self.key, {attestation: publish_until}, xx=True, lt=True)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None

    async def live(self, now: float) -> dict[str, float]:
        """Attestation -> publish-until, for every key still to be published at `now`."""
        try:
            entries = await self.client.zrangebyscore(self.key, f"({now}", "+inf", withscores=True)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        return {(m.decode() if isinstance(m, bytes) else str(m)): float(s) for m, s in entries}

    async def aclose(self) -> None:
        await self.client.aclose()
