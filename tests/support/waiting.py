"""Polling for a state another process reaches in its own time (the deadline only stops a
broken run; nothing is timed)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], bool], timeout: float = 30.0, interval: float = 0.2) -> bool:
    """Poll `check` until it is true; False if it never was within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
