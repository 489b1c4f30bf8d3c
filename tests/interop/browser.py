"""Headless Debian Chromium driven by Playwright for Python, and screenshots for people.

Playwright's own browser download cannot work here (no network but the package
registries), so it drives the Debian package at /usr/bin/chromium with the flags this
machine needs: no sandbox as root, and no background networking (its connections are
refused here). A missing Chromium fails the test: `make test` installs it (tools/debian-deps).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from tests.support.processes import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS: list[Path] = []  # listed at the end of the run (conftest.py)


@contextmanager
def chromium_page(profile: Path) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh Chromium profile, and the console errors it logs (for messages)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test installs it)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1200, "height": 900})
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        try:
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under tests/artifacts/ (git-ignored) and report its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.append(path)
    print(f"screenshot: {path}")
    return path
