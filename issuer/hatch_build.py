"""Build signet-jwt-issuer from the repository's `app/` directory.

The issuer's source is the top-level `app/` package of the repository (`app.main:app`,
`python -m app`: the layout its operators were given). Installed, the same files are the package
`signet_issuer`, so a wheel never puts a package called `app` into site-packages (the name a
user's own FastAPI service is likely to have). `app/` imports itself relatively, so both names
work. In the repository the files are `../app`; in this project's sdist they are `./app`.
"""

from __future__ import annotations

import re
from email.parser import Parser
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

PACKAGE = "signet_issuer"
LIBRARY = "signet-jwt"

# Editable install only: `signet_issuer` is the checkout's app/ directory, read in place.
EDITABLE_SHIM = '''"""Editable install of signet-jwt-issuer: this package is the checkout's app/ directory."""
__path__ = [{app!r}]
__file__ = {init!r}
with open(__file__, encoding="utf-8") as _init:
    exec(compile(_init.read(), __file__, "exec"))  # app/__init__.py
'''


def source_root(root: str) -> Path:
    """Where app/ is: this directory in an sdist, else the repository around it."""
    here = Path(root)
    return here if (here / "app" / "main.py").is_file() else here.parent


def version(root: str) -> str:
    """The library's version (signet/__init__.py), or the sdist's when building from one."""
    pkg_info = Path(root) / "PKG-INFO"
    if pkg_info.is_file():
        return str(Parser().parsestr(pkg_info.read_text(encoding="utf-8"))["Version"])
    text = (Path(root).parent / "signet" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not found:
        raise ValueError("no __version__ in signet/__init__.py")
    return found[1]


class IssuerMetadata(MetadataHookInterface):
    """Version from the one source; dependencies start with exactly that library release."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        release = version(self.root)
        extras = ",".join(self.config["library-extras"])
        metadata["version"] = release
        metadata["dependencies"] = [f"{LIBRARY}[{extras}]=={release}", *self.config["dependencies"]]


class IssuerBuild(BuildHookInterface):  # type: ignore[type-arg]
    """app/ goes in as `app/` (sdist), as `signet_issuer/` (wheel), or as a shim (editable)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        app = source_root(self.root) / "app"
        if self.target_name == "sdist":
            build_data["force_include"][str(app)] = "app"
        elif version == "editable":
            shim = Path(self.directory) / f"{PACKAGE}-editable.py"
            shim.parent.mkdir(parents=True, exist_ok=True)
            shim.write_text(EDITABLE_SHIM.format(app=str(app), init=str(app / "__init__.py")))
            build_data["force_include_editable"][str(shim)] = f"{PACKAGE}/__init__.py"
        else:
            build_data["force_include"][str(app)] = PACKAGE
