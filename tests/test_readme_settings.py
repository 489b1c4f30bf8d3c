"""The README documents every setting the code reads, and no setting the code does not read.

Settings are a public promise: a variable added to the issuer's Settings or to the
verifier's SIGNET_VERIFIER_* table without a README row fails here, and so does a README
row for a variable nothing reads any more.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import ENV_PREFIX, Settings
from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings() -> set[str]:
    """SIGNET_* names in the first cell of any README table row."""
    names: set[str] = set()
    for line in README.read_text().splitlines():
        if line.startswith("| `SIGNET_"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`(SIGNET_[A-Z0-9_]+)`", first_cell))
    return names


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    issuer = {(ENV_PREFIX + name).upper() for name in Settings.model_fields}
    verifier = set(VERIFIER_ENVIRONMENT.values())
    documented = documented_settings()
    assert sorted(issuer - documented) == [], "issuer settings missing from the README"
    assert sorted(verifier - documented) == [], "verifier settings missing from the README"
    assert sorted(documented - issuer - verifier) == [], "README rows for settings nothing reads"
