"""`signet.verifier` imports with only its own extra: no FastAPI, Starlette, pydantic, AWS SDK or
prometheus-client (signet.verifier.metrics is imported only by services that want it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import ROOT

BLOCKED = ("fastapi", "starlette", "pydantic", "pydantic_settings", "boto3", "botocore", "aioboto3",
           "aiobotocore", "uvicorn", "prometheus_client")

PROGRAM = f"""
import importlib.abc, sys
BLOCKED = {BLOCKED!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for this test: " + name)
sys.meta_path.insert(0, Block())
import signet.verifier
from signet.verifier import SignetAuthMiddleware, Verifier
Verifier("https://issuer.example", "api://x", redis_url="redis://127.0.0.1:6379/0").close()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
try:
    import signet.verifier.fastapi
except ImportError as exc:
    print("fastapi dependencies refused:", exc)
print("ok")
"""


def test_verifier_imports_without_fastapi_pydantic_or_boto3() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The block works (the FastAPI module really could not load) and the verifier did.
    assert lines == ["fastapi dependencies refused: blocked for this test: fastapi", "ok"]


def test_a_free_threaded_interpreter_without_the_gil_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier's caches take no lock (they rely on the GIL): with the GIL off, importing
    it fails with the fix in the message instead of racing. The interpreter here has a GIL, so
    the probe is faked (the only stand-in in this file)."""
    import runpy
    import sys

    import signet.verifier._preflight as preflight

    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    with pytest.raises(ImportError, match="PYTHON_GIL=1"):
        runpy.run_path(preflight.__file__)
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    runpy.run_path(preflight.__file__)  # with the GIL: imports
