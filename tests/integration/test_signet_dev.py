"""`signet dev` (what `make run` runs) prints curls that really get a token and call the demo
service with it, pasted into a shell."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from app.cli.dev import DEMO_AUDIENCE, demo_secret_file, ensure_demo_client
from app.settings import load_settings
from tests.support.processes import Service, free_port_pair
from tests.support.tokens import verify_access_token


def _line(service: Service, marker: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in service.output().splitlines():
            if marker in line:
                return line
        time.sleep(0.1)
    raise AssertionError(f"no line with {marker!r} in:\n{service.output()}")


def test_signet_dev_prints_a_working_curl(tmp_path: Path) -> None:
    port = free_port_pair()
    env = {"SIGNET_PORT": str(port), "SIGNET_CLIENTS_FILE": str(tmp_path / "signet" / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    service = Service("dev", [str(Path(sys.executable).parent / "signet"), "dev"], env)
    try:
        base = f"http://127.0.0.1:{port}"
        service.wait_http(base + "/healthz")
        assert _line(service, "public keys:").strip() == f"public keys:  curl -s {base}/.well-known/jwks.json"
        curl = _line(service, "get a token:").split("get a token:", 1)[1].strip()
        assert curl.startswith("curl -s -u demo:") and curl.endswith(f"{base}/token")
        pasted = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60, check=True)
        body = json.loads(pasted.stdout)
        assert verify_access_token(base, body["access_token"], DEMO_AUDIENCE)["client_id"] == "demo"
        # The demo service beside the issuer verifies a fresh token: paste the printed line.
        call = _line(service, "call it:").split("call it:", 1)[1].strip()
        assert call.endswith(f"http://127.0.0.1:{port + 1}/whoami")
        Service.wait_http(service, f"http://127.0.0.1:{port + 1}/healthz")
        whoami = subprocess.run(["bash", "-c", call], capture_output=True, text=True, timeout=60, check=True)
        claims = json.loads(whoami.stdout)
        assert "client_id" in claims, f"{whoami.stdout}\n{service.output()}"
        assert (claims["client_id"], claims["aud"], claims["iss"]) == ("demo", DEMO_AUDIENCE, base)
        anonymous = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    f"http://127.0.0.1:{port + 1}/whoami"], capture_output=True,
                                   text=True, timeout=30, check=True)
        assert anonymous.stdout == "401"
        # The demo starts once the issuer answers: its key warm-up never logs a failed fetch.
        assert "JWKS refresh failed" not in service.output(), service.output()
    finally:
        service.stop()
    settings = load_settings(clients_file=tmp_path / "signet" / "clients.yaml")
    secret_file = demo_secret_file(settings)
    assert secret_file.stat().st_mode & 0o777 == 0o600
    stored = json.loads(secret_file.read_text())["client_secret"]
    assert stored in curl
    assert stored not in settings.clients_file.read_text()  # the registry holds only the hash
    assert ensure_demo_client(settings) == stored  # a second start prints the same curl
    secret_file.unlink()
    assert ensure_demo_client(settings) != stored  # no stored secret: the demo client is re-keyed


def test_signet_dev_refuses_a_taken_demo_port(tmp_path: Path) -> None:
    """A taken SIGNET_PORT + 1 stops `signet dev` with one line, not curl lines that call a stranger."""
    port = free_port_pair()
    env = {**os.environ, "SIGNET_PORT": str(port), "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
           "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + 1))
        squatter.listen()
        done = subprocess.run([str(Path(sys.executable).parent / "signet"), "dev"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"port {port + 1} (SIGNET_PORT + 1, for the demo service) is in use" in done.stderr
    assert "curl" not in done.stdout
