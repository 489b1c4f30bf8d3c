"""Counters of the verifier's events, for metrics endpoints and for tests to assert on.

VerifierStats counts key cache events, off the request path. VerificationCounts counts
verify() outcomes, on it: one integer add per accepted token, a dict update per refusal.
Both are plain ints, updated without a lock: a count may miss an event when threads race,
which metrics tolerate, and the request path pays nothing more.
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
    redis_entries_refused: int = 0  # Redis entries older than the keys in use, or reviving a removed kid
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


class VerificationCounts:
    """Outcomes of `Verifier.verify` / `verify_sync`."""

    __slots__ = ("refused", "signatures_verified", "token_cache_hits")

    def __init__(self) -> None:
        self.token_cache_hits = 0  # accepted from the verified-token cache (no signature check)
        self.signatures_verified = 0  # accepted after a signature check
        self.refused: dict[str, int] = {}  # SignetError code -> refusals

    def refusal(self, code: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1

    @property
    def accepted(self) -> int:
        return self.token_cache_hits + self.signatures_verified
