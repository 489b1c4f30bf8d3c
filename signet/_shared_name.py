"""Warn when the unrelated `signet` distribution shares this package's directory.

This library is the distribution `signet-jwt`; its import name is `signet`. The package index's
`signet` is another project that also installs a top-level `signet` package. Installed into one
environment, the two write to the same `site-packages/signet/`: whichever came last owns
`signet/__init__.py`, and uninstalling either deletes files the other needs. Checked once per
process from `signet` and `signet.verifier` (the second survives the other project overwriting
our `__init__.py`); one metadata look-up, no scan of every installed distribution.
"""

from __future__ import annotations

import warnings
from importlib import metadata

OWN = "signet-jwt"
OTHER = "signet"
# A checkout installed under this project's former name (`signet` 0.1.0) is not a stranger.
OWN_SUMMARY = "Sign centrally, verify everywhere"

_checked = False


class SharedNameWarning(RuntimeWarning):
    """The unrelated `signet` distribution is installed beside signet-jwt."""


def other_distribution() -> metadata.Distribution | None:
    """The unrelated `signet` distribution, when one is installed."""
    try:
        found = metadata.distribution(OTHER)
    except metadata.PackageNotFoundError:
        return None
    summary = found.metadata["Summary"] or ""
    return None if summary.startswith(OWN_SUMMARY) else found


def warn_if_shared() -> None:
    """Warn once per process (SharedNameWarning) if the other `signet` is installed."""
    global _checked
    if _checked:
        return
    _checked = True
    other = other_distribution()
    if other is not None:
        warnings.warn(
            f"the unrelated distribution {OTHER!r} {other.version} is installed in this environment"
            f" and shares the 'signet' package directory with {OWN}; its files may have replaced"
            f" ours. Run: pip uninstall --yes {OTHER} && pip install --force-reinstall --no-deps {OWN}",
            SharedNameWarning, stacklevel=2)
