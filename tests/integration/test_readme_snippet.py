"""The README's "verify tokens in your service in 10 lines" runs as printed: the code block is
extracted, served by uvicorn, and called with tokens from a live issuer. No mocks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.cli.dev import DEMO_AUDIENCE
from tests.support.processes import ROOT, Service, free_port, free_port_pair, start_issuer
from tests.support.tokens import add_client, post_token

MARKER = "<!-- snippet:verify-in-10-lines"


def snippet(path: str, marker: str, language: str = "python") -> str:
    text = (ROOT / path).read_text()
    after = text[text.index(marker):]
    match = re.search(rf"```{language}\n(.*?)```", after, re.DOTALL)
    assert match, f"no {language} block after {marker!r} in {path}"
    return match.group(1)


def readme_snippet() -> str:
    return snippet("README.md", MARKER)


def test_the_demo_service_snippet_uses_the_audience_make_run_registers() -> None:
    command = snippet("docs/verifier.md", "<!-- snippet:demo-service", "sh")
    assert f"SIGNET_VERIFIER_AUDIENCE={DEMO_AUDIENCE} " in command


def test_the_snippet_is_ten_lines_of_code_at_most() -> None:
    code = [line for line in readme_snippet().splitlines() if line.strip()]
    assert len(code) <= 10, code


def test_the_snippet_protects_a_service_with_live_issuer_tokens(tmp_path: Path) -> None:
    readyz = snippet("docs/operations.md", "<!-- snippet:readyz")
    (tmp_path / "orders.py").write_text(readme_snippet() + "\n" + readyz)
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    secret = add_client(env, "shop", "--scope", "orders:read", "--scope", "profile",
                        "--audience", "api://orders") or ""
    issuer, base = start_issuer(env)
    service = None
    try:
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "orders:app", "--app-dir", str(tmp_path),
                "--host", "127.0.0.1", "--port", str(port)]
        service = Service("orders", argv, {"SIGNET_VERIFIER_ISSUER": base,
                                           "SIGNET_VERIFIER_AUDIENCE": "api://orders"})
        url = f"http://127.0.0.1:{port}/orders"
        service.wait_http(url)

        def token(scope: str) -> str:
            form = {"grant_type": "client_credentials", "scope": scope}
            answer = post_token(base, form, auth=("shop", secret))
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])

        allowed = httpx.get(url, headers={"Authorization": f"Bearer {token('orders:read')}"})
        assert allowed.status_code == 200, allowed.text
        assert allowed.json() == {"client": "shop", "orders": []}
        missing_scope = httpx.get(url, headers={"Authorization": f"Bearer {token('profile')}"})
        assert missing_scope.status_code == 403
        assert 'error="insufficient_scope"' in missing_scope.headers["www-authenticate"]
        # The app calls no install_error_handler: the 403 body is flat all the same.
        assert missing_scope.json()["error"] == "insufficient_scope", missing_scope.text
        no_token = httpx.get(url)
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"].startswith("Bearer")
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")  # a probe sends no token
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    finally:
        if service is not None:
            service.stop()
        issuer.stop()


# -- the snippets a user runs beside `make run`, against `signet dev` itself ----------------------
# `make run` is `.venv/bin/signet dev` in the checkout: its defaults (.signet/keys,
# .signet/clients.yaml relative to the working directory, the demo client, the demo service on
# SIGNET_PORT + 1). The only change here is the port (8000 may be taken on a shared machine),
# and `.venv/bin/` is this venv's bin directory.

BIN = Path(sys.executable).parent


@dataclass
class MakeRun:
    cwd: Path
    port: int
    spare_port: int  # what the snippets call 8002
    secret: str  # the demo client's, from .signet/demo-client.json as the README says

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def localize(self, text: str) -> str:
        for default, port in ((8000, self.port), (8001, self.port + 1), (8002, self.spare_port)):
            text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
            text = text.replace(f"--port {default}", f"--port {port}")
        return text.replace(".venv/bin/", f"{BIN}/")


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def bash(command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _service(name: str, command: str, cwd: Path) -> Service:
    return Service(name, ["bash", "-c", command], cwd=cwd)  # stop() ends its process group


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    cwd = tmp_path_factory.mktemp("checkout")
    port = free_port_pair()
    inherited = [f"-u{name}" for name in os.environ if name.startswith("SIGNET_")]
    service = Service("make-run", ["env", *inherited, f"SIGNET_PORT={port}", str(BIN / "signet"), "dev"],
                      cwd=cwd)
    try:
        service.wait_http(f"http://127.0.0.1:{port}/healthz")
        service.wait_http(f"http://127.0.0.1:{port + 1}/healthz")
        secret = json.loads((cwd / ".signet" / "demo-client.json").read_text())["client_secret"]
        yield MakeRun(cwd, port, free_port(), secret)
    finally:
        service.stop()


def test_the_make_run_curls_work_as_printed(make_run: MakeRun) -> None:
    block = snippet("README.md", "<!-- snippet:make-run-curls", "sh")
    lines = commands(make_run.localize(block).replace("<its secret>", make_run.secret))
    answers = [json.loads(bash(line, make_run.cwd)) for line in lines]
    assert len(answers) == 5, lines
    jwks, discovery, ready, token, whoami = answers
    assert jwks["keys"] and discovery["issuer"] == make_run.base and ready["status"] == "ready"
    assert token["token_type"] == "Bearer" and token["access_token"]
    assert (whoami["client_id"], whoami["aud"]) == ("demo", DEMO_AUDIENCE)


def test_the_10_line_app_runs_beside_make_run(make_run: MakeRun) -> None:
    (make_run.cwd / "orders.py").write_text(readme_snippet())
    add, serve, call = commands(make_run.localize(snippet("README.md", "<!-- snippet:orders-beside-make-run",
                                                          "sh")))
    printed = bash(add, make_run.cwd)
    secret = re.search(r"client_secret:\s+(\S+)", printed)
    assert secret, printed
    # "The issuer picks it up within a second": wait (bounded) for the reload, then call.
    deadline = time.monotonic() + 10
    while post_token(make_run.base, {"grant_type": "client_credentials"},
                     auth=("shop", secret[1])).status_code != 200:
        assert time.monotonic() < deadline, "the new client was not picked up"
        time.sleep(0.2)
    service = _service("orders", serve, make_run.cwd)
    try:
        service.wait_http(f"http://127.0.0.1:{make_run.spare_port}/healthz")
        answer = json.loads(bash(call.replace("<its secret>", secret[1]), make_run.cwd))
        assert answer == {"client": "shop", "orders": []}, service.output()
    finally:
        service.stop()


def test_the_demo_service_snippet_runs_beside_make_run(make_run: MakeRun) -> None:
    serve, call = commands(make_run.localize(snippet("docs/verifier.md", "<!-- snippet:demo-service", "sh")))
    answer = post_token(make_run.base, {"grant_type": "client_credentials"}, auth=("demo", make_run.secret))
    assert answer.status_code == 200, answer.text
    service = _service("demo-2", serve, ROOT)  # `.venv/bin/uvicorn app.demo:app` in the checkout
    try:
        service.wait_http(f"http://127.0.0.1:{make_run.spare_port}/healthz")
        whoami = json.loads(bash(call, ROOT, {"TOKEN": answer.json()["access_token"]}))
        assert (whoami["client_id"], whoami["iss"]) == ("demo", make_run.base), service.output()
    finally:
        service.stop()


def test_the_issuers_file_example_is_a_valid_file(tmp_path: Path) -> None:
    from signet.verifier.settings import VerifierSettings

    path = tmp_path / "issuers.toml"
    path.write_text(snippet("docs/verifier.md", "<!-- snippet:issuers-file", "toml"))
    settings = VerifierSettings.create((), "api://orders", issuers_file=str(path))
    assert [(t.issuer.split("/")[2], t.profile.name) for t in settings.trusted_issuers] == [
        ("login.microsoftonline.com", "entra"), ("cognito-idp.eu-west-1.amazonaws.com", "cognito"),
        ("keycloak.example", "keycloak")]


def test_the_verifier_api_listing_compiles_and_its_imports_exist() -> None:
    """A listing to copy from, not a program (it uses the reader's `app` and `token`): it
    parses (top-level await allowed), and what it imports and calls exists."""
    import ast

    listing = snippet("docs/verifier.md", "## The verifier API")
    tree = compile(listing, "verifier.md", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {}
    for node in ast.walk(tree):  # type: ignore[arg-type]
        if isinstance(node, ast.ImportFrom):
            exec(compile(ast.Module([node], []), "verifier.md", "exec"), namespace)  # noqa: S102
    assert {"SignetAuthMiddleware", "Verifier", "require_scopes", "require_token"} <= set(namespace)
    # Its `verifier = Verifier(...)` line builds a verifier (no I/O until it verifies).
    built = [node for node in tree.body if isinstance(node, ast.Assign)  # type: ignore[attr-defined]
             and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "Verifier"]
    assert len(built) == 1
    exec(compile(ast.Module(built, []), "verifier.md", "exec"), namespace)  # noqa: S102
    verifier = namespace["verifier"]
    assert all(callable(getattr(verifier, name)) for name in ("verify", "verify_sync", "aclose"))
    asyncio.run(verifier.aclose())  # type: ignore[attr-defined]
