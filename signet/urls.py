"""URL rules shared by the issuer's settings and the verifier's discovery."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """Plain http is acceptable only here: nothing on the wire can tamper with it."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
