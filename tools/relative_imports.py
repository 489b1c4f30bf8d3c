"""Rewrite absolute `app` imports inside app/ as relative ones: `python tools/relative_imports.py`.

The issuer's source is the top-level `app/` package in this repository (`app.main:app`,
`python -m app`), and the `signet-jwt-issuer` wheel ships the same files as `signet_issuer`
(never a generic `app` in a user's site-packages). Relative imports let one tree run under
either name. Idempotent: run it again after merging code that adds `from app... import`.
Run it with the dev venv's python (`.venv/bin/python`: ruff then sorts the
rewritten imports). With `--check` it changes nothing and exits 1 when a file would change (for CI and tests).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "app"
# `from app import x`, `from app.y import x`, at any indentation (lazy imports in functions too).
FROM = re.compile(rf"^(?P<indent>[ \t]*)from {PACKAGE}(?P<rest>(?:\.\w+)*) import ", re.MULTILINE)
# `import app.y` binds the name `app`, which a relative import cannot: refuse, name the file.
PLAIN = re.compile(rf"^[ \t]*import {PACKAGE}(?:\.\w+)*\b", re.MULTILINE)


# `from .x import`, `from ..y.z import`: made absolute first, so every import gets the
# shortest relative form for where its file is now (after a module moved).
RELATIVE = re.compile(r"^(?P<indent>[ \t]*)from (?P<dots>\.+)(?P<rest>[\w.]*) import ", re.MULTILINE)


def rewrite(path: Path) -> str:
    """The file's text with every import of the package in its shortest relative form."""
    package = [PACKAGE, *path.relative_to(ROOT / PACKAGE).parts[:-1]]  # ["app", "routes"]
    text = path.read_text()
    if match := PLAIN.search(text):
        raise SystemExit(f"{path}: `{match[0].strip()}` cannot be made relative; use `from ... import`")

    def absolute(match: re.Match[str]) -> str:
        base = package[: len(package) - len(match["dots"]) + 1]
        name = ".".join(base + ([match["rest"]] if match["rest"] else []))
        return f"{match['indent']}from {name} import "

    def relative(match: re.Match[str]) -> str:
        target = [PACKAGE, *match["rest"].removeprefix(".").split(".")] if match["rest"] else [PACKAGE]
        common = 0
        while common < min(len(package), len(target)) and package[common] == target[common]:
            common += 1
        dots = "." * (len(package) - common + 1)
        return f"{match['indent']}from {dots}{'.'.join(target[common:])} import "

    return FROM.sub(relative, RELATIVE.sub(absolute, text))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        new = rewrite(path)
        if new != path.read_text():
            changed.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new)
    for name in changed:
        print(f"{'would rewrite' if check else 'rewrote'} {name}")
    if changed and not check:
        # Relative imports sort after `signet`'s: let ruff's isort rule place them (`make lint`).
        subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--select", "I", "--fix",  # noqa: S603
                        *map(str, changed)], cwd=ROOT, check=True)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
