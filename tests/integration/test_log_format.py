"""One log format on the stream: `signet serve` and `uvicorn app.main:app` write every line,
uvicorn's start-up and access lines included, as JSON (or readable text), access lines carry
the response's request id, and no secret reaches the log."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Service, free_port
from tests.support.tokens import add_client

SECRET_IN_QUERY = "hunter2-query-secret"
WRONG_SECRET = "wrong-secret-in-the-form-0123456789"


def _serve(tmp: Path, log_format: str | None, argv: list[str]) -> tuple[Service, str, dict[str, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"SIGNET_PORT": str(port), "SIGNET_ISSUER": base, "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
           "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml")}
    if log_format is not None:
        env["SIGNET_LOG_FORMAT"] = log_format
    secret = add_client(env, "billing", "--scope", "read", "--audience", "api://billing") or ""
    service = Service("logs", [a.replace("{port}", str(port)) for a in argv], env)
    service.wait_http(base + "/healthz")
    return service, base, {"secret": secret}


SIGNET_SERVE = [sys.executable, "-m", "app", "serve"]
UVICORN = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "{port}"]


def _traffic(base: str, secret: str) -> tuple[dict[str, str], list[str]]:
    """A token, a refused token request and a query string with a secret; returns the
    request id of each response by path+status, and the secrets that must not be logged."""
    ids: dict[str, str] = {}
    issued = httpx.post(base + "/token", data={"grant_type": "client_credentials"},
                        auth=("billing", secret), headers={"X-Request-ID": "edge-7f3a:42"}, timeout=10)
    assert issued.status_code == 200, issued.text
    ids["POST /token 200"] = issued.headers["x-request-id"]
    refused = httpx.post(base + "/token", data={"grant_type": "client_credentials", "client_id": "billing",
                                                "client_secret": WRONG_SECRET}, timeout=10)
    assert refused.status_code == 401
    ids["POST /token 401"] = refused.headers["x-request-id"]
    health = httpx.get(base + "/healthz", params={"client_secret": SECRET_IN_QUERY}, timeout=10)
    ids["GET /healthz 200"] = health.headers["x-request-id"]
    basic = base64.b64encode(f"billing:{secret}".encode()).decode()
    return ids, [secret, WRONG_SECRET, SECRET_IN_QUERY, basic, issued.json()["access_token"]]


def _output_after(service: Service, count: int, marker: str) -> str:
    """The output once `count` lines contain `marker` (bounded wait: uvicorn writes the access
    line as the response starts, the test reads a file)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        output = service.output()
        if output.count(marker) >= count:
            return output
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines with {marker!r}:\n{service.output()}")


@pytest.fixture
def stopped() -> Iterator[list[Service]]:
    services: list[Service] = []
    yield services
    for service in services:
        service.stop()


@pytest.mark.parametrize("argv", [SIGNET_SERVE, UVICORN], ids=["signet-serve", "uvicorn"])
def test_every_line_is_json_and_access_lines_carry_the_request_id(
        tmp_path: Path, stopped: list[Service], argv: list[str]) -> None:
    service, base, client = _serve(tmp_path, None, argv)  # json is the default
    stopped.append(service)
    ids, secrets = _traffic(base, client["secret"])
    _output_after(service, 4, '"logger": "uvicorn.access"')  # /healthz of the wait, then three
    os.killpg(service.process.pid, signal.SIGTERM)  # the shutdown lines too; stop() drops the file
    service.wait_exit(timeout=15)
    output = service.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # each one JSON
    assert {"uvicorn.error", "uvicorn.access", "signet.issuer", "signet.audit"} <= {
        line["logger"] for line in lines}, output
    assert any(line["message"].startswith("Started server process") for line in lines), output
    access = {f"{line['method']} {line['path'].split('?')[0]} {line['status']}": line
              for line in lines if line["logger"] == "uvicorn.access"}
    for what, request_id in ids.items():
        assert access[what]["request_id"] == request_id, (what, access)
    assert ids["POST /token 200"] == "edge-7f3a:42"
    assert access["GET /healthz 200"]["path"] == "/healthz?<redacted>"
    audit = [line for line in lines if line["logger"] == "signet.audit"]
    assert {line["request_id"] for line in audit} >= {ids["POST /token 200"], ids["POST /token 401"]}
    for secret in secrets:
        assert secret not in output


def test_text_format_is_one_readable_line_per_record(tmp_path: Path, stopped: list[Service]) -> None:
    service, base, client = _serve(tmp_path, "text", SIGNET_SERVE)
    stopped.append(service)
    ids, secrets = _traffic(base, client["secret"])
    output = _output_after(service, 4, " uvicorn.access: ")
    lines = [line for line in output.splitlines() if line.strip()]
    assert not any(line.lstrip().startswith("{") for line in lines), output
    assert any(line.startswith("Signet issuer: ") for line in lines), output  # the banner, to paste
    access = [line for line in lines if " uvicorn.access: " in line]
    assert any('"POST /token HTTP/1.1" 200' in line and f"request_id={ids['POST /token 200']}" in line
               for line in access), access
    assert any(" info    uvicorn.error: Started server process" in line for line in lines), output
    for secret in secrets:
        assert secret not in output


def test_the_demo_service_writes_uvicorn_start_up_lines_as_json_too(stopped: list[Service]) -> None:
    """`uvicorn app.demo:app`: the lines uvicorn writes before the lifespan runs are JSON too."""
    port, nowhere = free_port(), free_port()  # the issuer is unreachable: start-up still completes
    env = {"SIGNET_VERIFIER_ISSUER": f"http://127.0.0.1:{nowhere}", "SIGNET_VERIFIER_AUDIENCE": "api://demo",
           "SIGNET_LOG_FORMAT": "JSON"}  # any letter case, as the issuer reads it
    service = Service("demo-logs", [sys.executable, "-m", "uvicorn", "app.demo:app", "--host", "127.0.0.1",
                                    "--port", str(port)], env)
    stopped.append(service)
    service.wait_http(f"http://127.0.0.1:{port}/healthz")
    output = _output_after(service, 1, '"logger": "uvicorn.access"')
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # each one JSON
    assert any(line["message"].startswith("Started server process") for line in lines), output
