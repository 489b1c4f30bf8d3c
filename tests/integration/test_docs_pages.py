"""README.md stays a short front door and the docs site stays whole: every page of docs/ is in
mkdocs.yml's nav and in both maps of the docs (README's and the site's home page), README's
links lead somewhere, and `mkdocs build --strict` (make docs) really fails on a page left out
of the nav, a link to a missing page and a link to a missing anchor."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_LINES = 260
LINK = re.compile(r"\]\(([^)\s]+)\)")


class _ConfigLoader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (`!!python/name:`); reading the nav needs none of them."""


_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def nav_pages(nav: Any) -> Iterator[str]:
    """Every page file a nav (nested lists of {title: page or list}) names."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


def pages() -> set[str]:
    return {path.name for path in DOCS.glob("*.md")}


def links(text: str) -> set[str]:
    return set(LINK.findall(text))


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_every_page_is_in_the_nav_and_the_nav_names_only_pages() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_ConfigLoader)  # noqa: S506
    listed = list(nav_pages(config["nav"]))
    assert len(listed) == len(set(listed)), "a page is in the nav twice"
    assert set(listed) == pages()


def test_both_maps_of_the_docs_list_every_page() -> None:
    readme = {link.removeprefix("docs/") for link in links(README.read_text())
              if link.startswith("docs/") and link.endswith(".md")}
    assert readme == pages() - {"index.md"}  # the site's home page is README's own sections
    home = {link for link in links((DOCS / "index.md").read_text()) if link.endswith(".md")}
    assert home == pages() - {"index.md"}


def test_readme_links_lead_to_files_that_exist() -> None:
    relative = [link.split("#", 1)[0] for link in links(README.read_text())
                if not link.startswith(("http://", "https://", "#"))]
    assert relative
    assert [link for link in relative if not (ROOT / link).exists()] == []


def test_a_strict_build_fails_on_a_page_out_of_nav_a_missing_page_and_a_missing_anchor(
        tmp_path: Path) -> None:
    """make docs relies on mkdocs.yml's validation block: without it these are only logged."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    shutil.copy(README, tmp_path)
    (tmp_path / "bench" / "results").mkdir(parents=True)
    shutil.copy(ROOT / "bench" / "results" / "latest.md", tmp_path / "bench" / "results")
    (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n")
    with (tmp_path / "docs" / "signing.md").open("a") as page:
        page.write("\n[gone](no-such-page.md) and [moved](verifier.md#no-such-section)\n")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode != 0
    records = re.split(r"^(?=[A-Z]+ +- )", result.stderr, flags=re.MULTILINE)  # a record may span lines
    warnings = "".join(record for record in records if record.startswith("WARNING"))
    for fault in ("orphan.md", "no-such-page.md", "#no-such-section"):
        assert fault in warnings, result.stderr  # a warning, so --strict fails on it alone
