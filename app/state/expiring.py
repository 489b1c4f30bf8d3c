"""A bounded in-memory map whose entries vanish at their own deadline.

Used where Redis is not configured (or is down): failure counters, the assertion
replay cache and the cache of verified client secrets. Bounded, so a flood of
made-up client ids or addresses cannot grow the process without limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringMap(Generic[V]):
    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def remaining(self, key: str) -> float:
        """Seconds until `key` expires (0 when absent)."""
        entry = self._entries.get(key)
        return max(0.0, entry[0] - self._clock()) if entry else 0.0

    def set(self, key: str, value: V, ttl: float) -> None:
        self._make_room()
        self._entries.pop(key, None)  # re-inserted last: insertion order is age order
        self._entries[key] = (self._clock() + ttl, value)

    def add(self, key: str, value: V, ttl: float) -> bool:
        """Insert unless a live entry exists; True when inserted (first use)."""
        if self.get(key) is not None:
            return False
        self.set(key, value, ttl)
        return True

    def increment(self, key: str, ttl: float) -> int:
        """Count one more within a window that starts at the first count and lasts `ttl`."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            self.set(key, 1, ttl)  # type: ignore[arg-type]
            return 1
        count = int(entry[1]) + 1  # type: ignore[call-overload]
        self._entries[key] = (entry[0], count)  # type: ignore[assignment]
        return count

    def decrement(self, key: str) -> None:
        """Give one count back (a refunded reservation); the window keeps its deadline, and a
        count back at zero leaves no entry."""
        entry = self._entries.get(key)
        if entry is None:
            return
        count = int(entry[1]) - 1  # type: ignore[call-overload]
        if count <= 0 or entry[0] <= self._clock():
            del self._entries[key]  # nothing failed, or the window is over: keep no entry
        else:
            self._entries[key] = (entry[0], count)  # type: ignore[assignment]

    def _make_room(self) -> None:
        if len(self._entries) < self.max_entries:
            return
        now = self._clock()
        for key in [k for k, (deadline, _) in self._entries.items() if deadline <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest entry
