"""The unit tier: no network, no processes. Each test here runs with both forbidden, so a test
that reaches for Redis, moto, a server or a subprocess fails here instead of quietly being slow
(it belongs in tests/integration)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


class NotAUnitTest(RuntimeError):
    """Raised when a unit test opens a connection or starts a process."""


@pytest.fixture(autouse=True)
def _no_network_no_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def connect(self: socket.socket, address: Any, *args: Any) -> None:
        raise NotAUnitTest(f"unit tests do not connect ({address!r}): move it to tests/integration")

    def popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        raise NotAUnitTest(f"unit tests start no process ({args!r}): move it to tests/integration")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    yield
