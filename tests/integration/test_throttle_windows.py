"""The failure throttle's refunds across a window boundary, against the real Redis and memory.

An attempt that is given its count back (a workload token while the federation issuer's
keys cannot be read, a full argon2 admission) may still be running when its window ends.
Its refund must not come off the failures of the window opened after it: an attacker who
keeps such attempts in flight across each boundary would otherwise buy one more guess per
attempt, window after window, from the same address.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.state.redis_link import RedisLink
from app.token.throttle import FailureThrottle, ThrottleLimits

ADDRESS = "198.51.100.7"
LIMIT = 3
WINDOW = 1


@pytest.fixture(params=["redis", "memory"])
async def throttle(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[FailureThrottle]:
    limits = ThrottleLimits(per_client=100, per_address=LIMIT, window_seconds=WINDOW)
    if request.param == "memory":
        yield FailureThrottle(limits)
        return
    link = RedisLink(redis_url, f"test-windows-{uuid.uuid4().hex[:8]}:")
    try:
        yield FailureThrottle(limits, link)
    finally:
        await link.run(lambda client: _drop(client, link))
        await link.aclose()


async def _drop(client: object, link: RedisLink) -> None:
    keys = [key async for key in client.scan_iter(link.key("*"))]  # type: ignore[attr-defined]
    if keys:
        await client.delete(*keys)  # type: ignore[attr-defined]


async def test_a_refund_after_its_window_ended_does_not_cancel_a_later_failure(
        throttle: FailureThrottle) -> None:
    slow = await throttle.reserve(None, ADDRESS)  # in flight: waiting on an issuer that is down
    assert slow.refused is None
    await asyncio.sleep(WINDOW + 0.3)  # its window ends meanwhile
    for _ in range(LIMIT):  # a new window: wrong secrets, each checked and counted
        assert (await throttle.reserve(None, ADDRESS)).refused is None
    await throttle.refund(slow)  # the slow attempt answers 503: its own count back, none other
    assert (await throttle.reserve(None, ADDRESS)).refused is not None


async def test_a_refund_in_its_own_window_gives_its_count_back(throttle: FailureThrottle) -> None:
    for _ in range(LIMIT - 1):
        assert (await throttle.reserve(None, ADDRESS)).refused is None
    unchecked = await throttle.reserve(None, ADDRESS)
    await throttle.refund(unchecked)
    assert (await throttle.reserve(None, ADDRESS)).refused is None  # the limit's last failure
    assert (await throttle.reserve(None, ADDRESS)).refused is not None
