"""Timing of `Verifier.verify` / `verify_sync`, switched on per verifier by a metrics collector.

Why not always: a cached token verifies in a few hundred nanoseconds, and two clock reads
plus a call would add a third to that. So an untimed verifier runs the class's methods as
they are, and `install` puts timed wrappers on the instance only when something observes
(signet.verifier.metrics.VerifierCollector does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from signet.verifier.errors import SignetError

if TYPE_CHECKING:
    from signet.verifier.claims import Claims
    from signet.verifier.verifier import Verifier

# observe(accepted, seconds): one verification, accepted or refused, took `seconds`.
Observer = Callable[[bool, float], None]


def install(verifier: Verifier, observe: Observer) -> None:
    """From now on, report each verification of `verifier` to `observe` (and to any observer
    installed before)."""
    attributes: dict[str, Any] = verifier.__dict__
    observers: list[Observer] = [*attributes.get("_timing_observers", ()), observe]
    attributes["_timing_observers"] = observers
    if len(observers) > 1:
        def observe(accepted: bool, seconds: float) -> None:
            for observer in observers:
                observer(accepted, seconds)
    verify: Callable[[Verifier, str], Awaitable[Claims]] = type(verifier).verify
    verify_sync: Callable[[Verifier, str], Claims] = type(verifier).verify_sync

    async def timed_verify(token: str) -> Claims:
        started = perf_counter()
        try:
            claims = await verify(verifier, token)
        except SignetError:
            observe(False, perf_counter() - started)
            raise
        observe(True, perf_counter() - started)
        return claims

    def timed_verify_sync(token: str) -> Claims:
        started = perf_counter()
        try:
            claims = verify_sync(verifier, token)
        except SignetError:
            observe(False, perf_counter() - started)
            raise
        observe(True, perf_counter() - started)
        return claims

    attributes["verify"] = timed_verify  # instance attributes: looked up before the class's
    attributes["verify_sync"] = timed_verify_sync
