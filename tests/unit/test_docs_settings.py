"""The docs document every setting the code reads, and no setting the code does not read.

Settings are a public promise: a variable added to the issuer's Settings or to the
verifier's SIGNET_VERIFIER_* table without a row in the docs (docs/configuration.md holds the
generated tables) fails here, and so does a row, on any page or in README.md, for a variable
nothing reads any more.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import ENV_PREFIX, Settings
from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_settings(pages: list[Path]) -> set[str]:
    """SIGNET_* names in the first cell of any table row of the pages."""
    names: set[str] = set()
    for page in pages:
        for line in page.read_text().splitlines():
            if line.startswith("| `SIGNET_"):
                first_cell = line.split("|")[1]
                names |= set(re.findall(r"`(SIGNET_[A-Z0-9_]+)`", first_cell))
    return names


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    issuer = {(ENV_PREFIX + name).upper() for name in Settings.model_fields}
    verifier = set(VERIFIER_ENVIRONMENT.values())
    documented = documented_settings(PAGES)
    assert sorted(issuer - documented) == [], "issuer settings missing from the docs"
    assert sorted(verifier - documented) == [], "verifier settings missing from the docs"
    assert sorted(documented - issuer - verifier) == [], "rows in the docs for settings nothing reads"


def test_the_configuration_page_alone_documents_every_setting() -> None:
    """The reference is complete by itself: no setting is documented only in passing elsewhere."""
    issuer = {(ENV_PREFIX + name).upper() for name in Settings.model_fields}
    verifier = set(VERIFIER_ENVIRONMENT.values())
    assert documented_settings([ROOT / "docs" / "configuration.md"]) == issuer | verifier
