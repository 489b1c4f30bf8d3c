"""The code matches docs/architecture.md: every part it lists exists, every folder of app/ is
listed, and no module imports across a line the page's table draws."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def forbidden_rules() -> list[tuple[str, list[str]]]:
    """(part, the parts it must not import) for each row of the page's table."""
    section = PAGE.split("## What each part may import", 1)[1].split("\n## ", 1)[0]
    rules = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            rules.append((cells[0].strip("`"), re.findall(r"`([\w.]+)`", cells[1])))
    return rules


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterable[str]:
    """Every module a file imports, relative imports resolved, lazy ones in functions included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)  # `from app import x`


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(graph: dict[str, set[str]], rules: list[tuple[str, list[str]]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        for part, banned in rules:
            if under(module, part):
                found += [f"{module} imports {target} ({part} must not import {ban})"
                          for target in sorted(imported) for ban in banned if under(target, ban)]
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): set(imports_of(path))
            for top in ("app", "signet") for path in (ROOT / top).rglob("*.py")}


def test_no_module_imports_across_a_boundary_the_page_forbids() -> None:
    rules = forbidden_rules()
    assert len(rules) >= 10, rules  # the table was read
    assert violations(import_graph(), rules) == []


def test_the_checker_sees_a_forbidden_import() -> None:
    """A route importing the command line, the library importing the service: both caught."""
    graph = {"app.routes.admin": {"app.cli.keys"}, "signet.verifier.fetch": {"app.settings"},
             "app.cli.main": {"app.routes.admin"}}
    found = violations(graph, forbidden_rules())
    assert any(v.startswith("app.routes.admin imports app.cli.keys") for v in found), found
    assert any(v.startswith("signet.verifier.fetch imports app.settings") for v in found), found
    assert not any(v.startswith("app.cli.main") for v in found), found


def test_the_page_lists_every_part_of_the_tree() -> None:
    tree = PAGE.split("## The parts", 1)[1].split("## ", 1)[0]
    listed = set(re.findall(r"^  ([\w]+)/", tree, re.MULTILINE))
    folders = {p.name for p in (ROOT / "app").iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders <= listed, f"folders of app/ missing from docs/architecture.md: {folders - listed}"
    library = {p.name for p in (ROOT / "signet").iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert library <= listed, library - listed
    for part, banned in forbidden_rules():
        for name in (part, *banned):
            path = ROOT / Path(*name.split("."))
            assert path.is_dir() or path.with_suffix(".py").is_file(), f"{name} is not a part of the tree"


def test_the_service_imports_itself_relatively_in_the_shortest_form() -> None:
    """app/ runs as `app` (checkout) and as `signet_issuer` (wheel): only relative imports work
    under both names. tools/relative_imports.py rewrites them; here nothing is left to rewrite."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("relative_imports", ROOT / "tools" / "relative_imports.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    stale = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "app").rglob("*.py"))
             if tool.rewrite(path) != path.read_text()]
    assert stale == [], f"run .venv/bin/python tools/relative_imports.py: {stale}"
