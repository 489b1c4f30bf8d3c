"""Run first by `import signet.verifier`: name the missing extra rather than fail deep inside
(`No module named 'httpx'`), warn when the unrelated `signet` distribution is installed, and
refuse a free-threaded interpreter running without the GIL (the caches rely on it)."""

import sys

from signet._extras import require
from signet._shared_name import warn_if_shared

require("signet.verifier", "verifier", "httpx", "redis", "msgspec")
warn_if_shared()


def gil_disabled() -> bool:
    """True on a free-threaded build (3.13t and later) running with the GIL off."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_enabled is not None and not is_enabled()


if gil_disabled():
    raise ImportError("signet.verifier needs the GIL: its lock-free caches are not safe on a"
                      " free-threaded interpreter with the GIL disabled; run with PYTHON_GIL=1"
                      " (or -X gil=1)")
