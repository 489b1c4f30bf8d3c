"""The Redis layer: one JWKS entry per issuer shared by every instance, a fetch lock, a
fleet-wide unknown-kid cooldown, and a pub/sub channel announcing changed key sets.

Redis is a cache, never the source of truth. Entry names include the issuer, and with a
cache-integrity key every entry carries an HMAC-SHA256 over its name and content, so a
writer without the key can neither forge an entry nor move one to another issuer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis

from signet.verifier.stats import VerifierStats

log = logging.getLogger("signet.verifier")

_FORMAT = b"signet-jwks-v1"
_NO_MAC = b"-"
# 1: claimed; 2: claimed after replacing a key no verifier wrote (no expiry, or a longer one);
# 0: another instance holds the cooldown. One script: the check and the write are one step.
_CLAIM_COOLDOWN = """
if redis.call('set', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
local left = redis.call('pttl', KEYS[1])
if left == -1 or left > tonumber(ARGV[1]) then
  redis.call('set', KEYS[1], '1', 'PX', ARGV[1])
  return 2
end
return 0
"""


@dataclass(frozen=True, slots=True)
class StoredJwks:
    """A JWKS document as fetched from the issuer, with what its freshness depends on."""

    issuer: str
    document: str
    fetched_at: float  # the fetching instance's clock
    max_age: float  # seconds the document is fresh, already bounded by the policy
    etag: str | None

    @property
    def fresh_until(self) -> float:
        return self.fetched_at + self.max_age


class RedisJwksStore:
    def __init__(self, client: aioredis.Redis, prefix: str, integrity_key: bytes | None,
                 stats: VerifierStats) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = f"{prefix}jwks-changed"
        self._integrity_key = integrity_key
        self._stats = stats

    def entry_name(self, issuer: str) -> str:
        return f"{self.prefix}jwks:{issuer}"

    def _mac(self, name: str, payload: bytes) -> bytes:
        assert self._integrity_key is not None
        return hmac.new(self._integrity_key, name.encode() + b"\n" + payload,
                        hashlib.sha256).hexdigest().encode()

    async def read(self, issuer: str) -> StoredJwks | None:
        """The entry, or None when absent, unreadable or failing its integrity check."""
        name = self.entry_name(issuer)
        raw = await self.client.get(name)
        if raw is None:
            return None
        if not isinstance(raw, bytes):  # a client built with decode_responses=True
            raw = raw.encode()
        entry = self._decode(name, issuer, raw)
        if entry is None:
            self._stats.integrity_failures += 1
            log.warning("ignoring a Redis JWKS entry that failed its integrity check",
                        extra={"fields": {"issuer": issuer, "entry": name}})
        return entry

    def _decode(self, name: str, issuer: str, raw: bytes) -> StoredJwks | None:
        parts = raw.split(b" ", 2)
        if len(parts) != 3 or parts[0] != _FORMAT:
            return None
        mac, payload = parts[1], parts[2]
        if self._integrity_key is not None and not hmac.compare_digest(mac, self._mac(name, payload)):
            return None
        try:
            entry = msgspec.json.decode(payload, type=StoredJwks)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return None
        return entry if entry.issuer == issuer else None

    async def write(self, entry: StoredJwks, expire_seconds: float) -> None:
        name = self.entry_name(entry.issuer)
        payload = msgspec.json.encode(entry)
        mac = self._mac(name, payload) if self._integrity_key is not None else _NO_MAC
        await self.client.set(name, b" ".join((_FORMAT, mac, payload)),
                              px=max(1000, int(expire_seconds * 1000)))

    def lock(self, issuer: str, timeout: float) -> Any:
        """A redis-py Lock (token-checked release), so one instance fetches at a time."""
        return self.client.lock(f"{self.prefix}lock:{issuer}", timeout=timeout, blocking=False,
                                thread_local=False)

    async def lock_held(self, issuer: str) -> bool:
        return bool(await self.client.exists(f"{self.prefix}lock:{issuer}"))

    async def claim_cooldown(self, issuer: str, seconds: float) -> bool:
        """True for the one instance in the fleet allowed an unknown-kid refetch now.

        A cooldown key with no expiry, or one longer than this instance's cooldown, was not
        written by a verifier (each sets its own cooldown as the expiry): it is replaced and
        claimed, so whoever can write Redis cannot hold back a new key's tokens for ever."""
        name = f"{self.prefix}cooldown:{issuer}"
        claimed = await self.client.eval(_CLAIM_COOLDOWN, 1, name, max(1, int(seconds * 1000)))
        if claimed == 2:
            log.warning("replaced a fleet cooldown that had no or too long an expiry",
                        extra={"fields": {"issuer": issuer, "key": name}})
        return bool(claimed)

    async def announce(self, issuer: str) -> None:
        await self.client.publish(self.channel, issuer.encode())
