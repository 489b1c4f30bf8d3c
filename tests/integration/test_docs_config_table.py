"""docs/configuration.md's tables are exactly what `python -m app.config_table` generates
from the settings classes, and every setting has its prose there (no more, no less)."""

from __future__ import annotations

import subprocess
import sys

from app import config_table
from app.settings import ENV_PREFIX, Settings
from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT
from tests.support.processes import ROOT


def test_every_setting_has_prose_and_no_prose_is_left_over() -> None:
    issuer = {(ENV_PREFIX + name).upper() for name in Settings.model_fields}
    assert set(config_table.ISSUER_MEANINGS) == issuer
    assert set(config_table.VERIFIER_MEANINGS) == set(VERIFIER_ENVIRONMENT.values())


def test_the_page_is_the_one_in_the_docs() -> None:
    assert config_table.PAGE == ROOT / "docs" / "configuration.md"


def test_the_page_tables_match_the_generated_ones() -> None:
    page = config_table.PAGE.read_text()
    assert config_table.with_tables(page) == page, (
        "docs/configuration.md's tables drifted from the settings classes:"
        " run `python -m app.config_table --write`")


def test_a_changed_default_shows_as_drift() -> None:
    """The check is not vacuous: editing a generated row is caught."""
    page = config_table.PAGE.read_text()
    edited = page.replace("| `SIGNET_PORT` | integer, 1 to 65535 | `8000` |",
                          "| `SIGNET_PORT` | integer, 1 to 65535 | `8080` |")
    assert edited != page
    assert config_table.with_tables(edited) == page


def test_the_command_prints_both_tables() -> None:
    result = subprocess.run([sys.executable, "-m", "app.config_table"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert "| `SIGNET_KEY_BACKEND` | one of `local`, `kms` | `local` |" in result.stdout
    assert "| `SIGNET_VERIFIER_AUDIENCE` | list | required |" in result.stdout
