"""Run first by `import signet.verifier`: name the missing extra rather than fail deep inside
(`No module named 'httpx'`), and warn when the unrelated `signet` distribution is installed."""

from signet._extras import require
from signet._shared_name import warn_if_shared

require("signet.verifier", "verifier", "httpx", "redis", "msgspec")
warn_if_shared()
