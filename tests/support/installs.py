"""Build both distributions and install them as a user would, into fresh venvs (tests/deploy/test_wheels.py).

uv makes the venvs and installs into them (seconds, where pip takes a minute for the issuer): the
same requirement strings and options as `pip install`, resolved against the package index for
dependencies and against the freshly built wheels (`--find-links`) for Signet's own two names,
with requirements.lock as constraints so the versions are the tested ones.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uv import find_uv_bin

from tests.support.processes import ROOT

LIBRARY = "signet-jwt"
ISSUER = "signet-jwt-issuer"
LOCK = ROOT / "requirements.lock"
UV = find_uv_bin()
# uv caches wheels found through --find-links: always take the ones just built.
FRESH = ("--refresh-package", LIBRARY, "--refresh-package", ISSUER)


def run(argv: list[str], *, cwd: Path = ROOT, env: Mapping[str, str] | None = None) -> str:
    """Run a command; its output in the failure message if it fails."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Dists:
    """The sdists and wheels of both distributions, in one directory."""

    directory: Path

    def one(self, pattern: str) -> Path:
        found = sorted(self.directory.glob(pattern))
        assert len(found) == 1, (pattern, found)
        return found[0]

    @property
    def wheels(self) -> dict[str, Path]:
        return {LIBRARY: self.one("signet_jwt-*.whl"), ISSUER: self.one("signet_jwt_issuer-*.whl")}

    @property
    def sdists(self) -> dict[str, Path]:
        return {LIBRARY: self.one("signet_jwt-*.tar.gz"),
                ISSUER: self.one("signet_jwt_issuer-*.tar.gz")}


def build_dists(out: Path) -> Dists:
    """`python -m build` for both projects: the sdist, then the wheel built from that sdist, in
    an isolated environment whose build backend is the locked one."""
    env = {**os.environ, "UV_CONSTRAINT": str(LOCK)}
    for project in (ROOT, ROOT / "issuer"):
        run([sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out), str(project)],
            env=env)
    return Dists(out)


def wheel_record(wheel: Path) -> dict[str, str]:
    """The wheel's RECORD: path -> hash (empty for RECORD itself)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        rows = csv.reader(archive.read(name).decode().splitlines())
        return {row[0]: row[1] for row in rows}


def readme_install_lines(*texts: str) -> list[str]:
    """Every `pip install ...` in the Markdown `texts` (inline code and fenced blocks) that
    names one of Signet's distributions, whitespace-normalised, in order, once each."""
    spans: list[str] = []
    for text in texts:
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            spans.extend(block.splitlines())
        prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
        spans.extend(re.findall(r"`([^`]+)`", prose))
    lines: list[str] = []
    for span in spans:
        for command in " ".join(span.split()).split("&&"):
            start = command.find("pip install ")
            line = command[start:].strip()
            if start >= 0 and set(requirement_names(line)) & {LIBRARY, ISSUER} and line not in lines:
                lines.append(line)
    return lines


def install_args(line: str) -> list[str]:
    """The arguments after `pip install`."""
    argv = shlex.split(line)
    assert argv[:2] == ["pip", "install"], line
    return argv[2:]


def requirement_names(line: str) -> dict[str, set[str]]:
    """Requirement name -> extras, for each requirement of a `pip install` line."""
    names: dict[str, set[str]] = {}
    for arg in install_args(line):
        found = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?(?:[=<>!~].*)?", arg)
        if found and not arg.startswith("-"):
            names[found[1].lower()] = {e.strip() for e in (found[2] or "").split(",") if e.strip()}
    return names


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment with the venv first on PATH and no PYTHONPATH."""
        return {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "VIRTUAL_ENV": str(self.path), "PYTHONPATH": "", **(extra or {})}

    def python_json(self, program: str, cwd: Path, env: Mapping[str, str] | None = None) -> Any:
        """Run `program` isolated (-I: no cwd, PYTHONPATH or user site on sys.path); it prints
        one JSON document."""
        out = run([str(self.bin / "python"), "-I", "-c", program], cwd=cwd, env=self.env(env))
        return json.loads(out)


def make_venv(path: Path, dists: Dists, args: list[str]) -> Venv:
    """A fresh venv with `pip install ARGS` done, our names resolving to the built wheels."""
    run([UV, "venv", "--quiet", "--python", sys.executable, str(path)])
    run([UV, "pip", "install", "--quiet", "--python", str(path / "bin" / "python"),
         "--find-links", str(dists.directory), "--constraint", str(LOCK), *FRESH, *args])
    return Venv(path)


# Run inside a venv: for each of Signet's distributions installed there, its version, where its
# files are, and the RECORD it was installed with.
INSTALLED = """
import json, sys
from importlib import metadata
found = {}
for name in ("signet-jwt", "signet-jwt-issuer"):
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    found[name] = {"version": dist.version, "location": str(dist.locate_file("")),
                   "record": [[f.as_posix(), f.hash.mode + "=" + f.hash.value if f.hash else ""]
                              for f in dist.files]}
print(json.dumps({"prefix": sys.prefix, "dists": found}))
"""
