"""Name the extra to install when an optional part of signet-jwt is imported without it."""

from __future__ import annotations

from importlib.util import find_spec

DISTRIBUTION = "signet-jwt"


def require(part: str, extra: str, *modules: str) -> None:
    """Raise ModuleNotFoundError naming `pip install 'signet-jwt[extra]'` if a module is missing."""
    missing = [name for name in modules if find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"{part} needs {', '.join(missing)}, from the [{extra}] extra:"
            f" pip install '{DISTRIBUTION}[{extra}]'", name=missing[0])
