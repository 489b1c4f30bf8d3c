"""Wire the key ring rotation into the issuer: policy from settings, a background loop,
and the JWKS re-published whenever the ring changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from signet.channels import ISSUER_KEYS_CHANGED
from signet.keyring import RotationPolicy
from signet.keys.base import KeyBackend
from signet.rotation import Rotator, supports_rotation

from ..settings import Settings

log = logging.getLogger("signet.rotation")


@asynccontextmanager
async def change_announcer(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[None]] | None]:
    """Publish the issuer URL on signet.channels.ISSUER_KEYS_CHANGED when the key set changes,
    so Signet verifiers refetch at once. Best effort: without Redis they still refresh on
    their schedule, which the publish lead already waits for. Closes its client on exit."""
    if not settings.redis_url:
        yield None
        return
    from redis.exceptions import RedisError

    from signet.redis_url import redis_from_url

    client = redis_from_url(settings.redis_url, timeout=2)

    async def announce() -> None:
        try:
            await client.publish(ISSUER_KEYS_CHANGED, settings.issuer_url.encode())
        except (RedisError, OSError) as exc:
            log.warning("could not announce the key change to verifiers",
                        extra={"fields": {"error": type(exc).__name__}})

    try:
        yield announce
    finally:
        await client.aclose()


def rotation_policy(settings: Settings) -> RotationPolicy:
    period = settings.rotation_period.total_seconds()
    return RotationPolicy(publish_lead=settings.publish_lead_seconds,
                          retire_after=settings.retire_after_seconds,
                          rotation_period=period or None)


def build_rotator(settings: Settings, backend: KeyBackend,
                  on_change: Callable[[], Awaitable[None] | None] | None = None) -> Rotator | None:
    """A Rotator for backends that keep a key ring; None for a fixed key (KMS, for now)."""
    if not supports_rotation(backend):
        return None
    return Rotator(backend, settings.signing_alg, rotation_policy(settings),  # type: ignore[arg-type]
                   on_change=on_change)


@asynccontextmanager
async def rotating(rotator: Rotator | None, settings: Settings) -> AsyncIterator[None]:
    """Converge once before serving, then keep converging and reloading in the background."""
    if rotator is None:
        yield
        return
    await rotator.converge()
    task = asyncio.create_task(rotator.run(settings.key_ring_reload_seconds), name="signet-rotation")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
