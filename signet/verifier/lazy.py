"""A Verifier given now, or a function that builds one at first use.

Why: apps often build their Verifier from settings at start-up, after the middleware and
the metrics collector are constructed; both take either form through this one holder.
"""

from __future__ import annotations

from collections.abc import Callable

from signet.verifier.verifier import Verifier


class LazyVerifier:
    __slots__ = ("_provider", "_verifier")

    def __init__(self, verifier: Verifier | Callable[[], Verifier]) -> None:
        self._verifier = verifier if isinstance(verifier, Verifier) else None
        self._provider = None if isinstance(verifier, Verifier) else verifier

    @property
    def built(self) -> Verifier | None:
        """The verifier if it exists yet (closing must not build one just to close it)."""
        return self._verifier

    def get(self) -> Verifier:
        if self._verifier is None:
            assert self._provider is not None
            self._verifier = self._provider()
        return self._verifier
