"""Timing of `Verifier.verify` / `verify_sync`, switched on per verifier by a metrics collector.

Why not always: a cached token verifies in a few hundred nanoseconds, and clock reads plus
an outcome report would add a good part of that. So an untimed verifier runs the class's
methods as they are, and `install` points the instance's `verify` and `verify_sync` at their
timed wrappers (Verifier._timed_verify, _timed_verify_sync, one call frame more)
only when something observes (signet.verifier.metrics.VerifierCollector does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signet.verifier.verifier import Verifier

# observe(accepted, seconds): one verification, accepted or refused, took `seconds`.
Observer = Callable[[bool, float], None]


def install(verifier: Verifier, observe: Observer) -> None:
    """From now on, report each verification of `verifier` to `observe` (and to any observer
    installed before)."""
    # setattr, never verifier.__dict__: touching the instance dict slows every attribute read
    # of the verifier that follows (a cached verify about 20% slower on CPython 3.11).
    observers: list[Observer] = [*getattr(verifier, "_timing_observers", ()), observe]
    setattr(verifier, "_timing_observers", observers)  # noqa: B010 (not a Verifier attribute)
    if len(observers) > 1:
        def observe(accepted: bool, seconds: float) -> None:
            for observer in observers:
                observer(accepted, seconds)
    verifier._timing_observe = observe
    # Instance attributes: looked up before the class's methods.
    verifier.verify = verifier._timed_verify  # type: ignore[method-assign]
    verifier.verify_sync = verifier._timed_verify_sync  # type: ignore[method-assign]
