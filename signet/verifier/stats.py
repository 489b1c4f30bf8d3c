"""Counters of the key cache's events, for metrics endpoints and for tests to assert on.

Only events off the request path are counted, so counting costs the request path nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class VerifierStats:
    jwks_fetches: int = 0  # requests sent to the issuer's JWKS endpoint (200 or 304)
    jwks_not_modified: int = 0  # of those, answered 304 to If-None-Match
    jwks_fetch_errors: int = 0  # unreachable issuer, bad status, or an unusable document
    discovery_fetches: int = 0
    redis_loads: int = 0  # key sets taken from Redis instead of the issuer
    redis_errors: int = 0  # Redis unreachable or failing; the verifier carried on without it
    integrity_failures: int = 0  # Redis entries whose HMAC did not verify (ignored)
    lock_waits: int = 0  # another instance held the fetch lock; this one waited for its result
    pubsub_reloads: int = 0  # key sets reloaded because another instance announced a change
    issuer_announcements: int = 0  # refetches because the issuer announced a key ring change
    unknown_kid_refetches: int = 0
    unknown_kid_cooldown: int = 0  # unknown kids refused without a fetch (penalty box)
    stale_if_error: int = 0  # failed refreshes while the previous keys stayed in use
    keys_unavailable: int = 0  # failed loads that left an issuer without usable keys
    keys_removed: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
