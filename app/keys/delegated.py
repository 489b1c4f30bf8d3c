"""Wire delegated signing (SIGNET_SIGNING_MODE=delegated) into the issuer.

The configured backend becomes the root: it attests ephemeral keys instead of signing
every token (see signet.keys.delegated). A background task renews the keys and
re-publishes the JWKS whenever the union of every replica's keys changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from signet.algorithms import get_algorithm
from signet.keys.attested_store import AttestedKeyStore
from signet.keys.base import KeyBackend
from signet.keys.delegated import DelegatedBackend, DelegatedTiming

from ..settings import Settings


def delegated_backend(settings: Settings, root: KeyBackend) -> DelegatedBackend:
    """Wrap `root`; without SIGNET_REDIS_URL only one replica may run (nothing to share)."""
    store = (AttestedKeyStore.from_url(settings.redis_url, settings.redis_prefix, settings.issuer_url)
             if settings.redis_url else None)
    timing = DelegatedTiming(publish_lead=settings.publish_lead_seconds,
                             retire_after=settings.retire_after_seconds,
                             lifetime=settings.delegated_key_lifetime.total_seconds(),
                             tick=settings.key_ring_reload_seconds)
    return DelegatedBackend(root, settings.issuer_url, get_algorithm(settings.signing_alg), timing,
                            store, rsa_key_bits=settings.rsa_key_bits)


@asynccontextmanager
async def delegating(backend: KeyBackend,
                     on_change: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """Run the ephemeral key manager while the issuer serves (no-op in kms mode)."""
    if not isinstance(backend, DelegatedBackend):
        yield
        return
    task = asyncio.create_task(backend.run(on_change), name="signet-delegated-keys")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
