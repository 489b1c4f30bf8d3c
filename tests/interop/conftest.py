"""Fixtures shared by the interoperability and browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.issuers import IssuedToken, issuers_for_every_algorithm


@pytest.fixture(scope="package")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, IssuedToken]]:
    """alg -> a token from a running issuer signing with that algorithm."""
    with issuers_for_every_algorithm(tmp_path_factory.mktemp("interop")) as tokens:
        yield tokens


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name every screenshot the browser tests saved, so a person can look at them."""
    from tests.interop.browser import SCREENSHOTS

    for path in SCREENSHOTS:
        terminalreporter.write_line(f"screenshot: {path}")
