"""docs/threat-model.md stays true: every line it marks Defended names at least one test as
`tests/FILE.py::test_name`, and every test it names exists (the suite runs them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")}


def test_every_defended_line_names_a_test() -> None:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("|") and "**Defended**" in line]
    assert len(rows) >= 30
    unproven = [row[:80] for row in rows if not REFERENCE.search(row.split("**Defended**", 1)[1])]
    assert unproven == []


def test_every_named_test_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert references
    missing = [f"{file}::{name}" for file, name in sorted(set(references))
               if not (ROOT / file).is_file() or name not in _tests_in(ROOT / file)]
    assert missing == []
