"""Start real services (moto, redis-server, uvicorn) as subprocesses on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parents[2]
# The issuer principal managed keys' policy names. moto's own identity for these credentials
# (arn:aws:sts::123456789012:user/moto) is no IAM ARN a role could be derived from, so every
# issuer run against moto is given one; moto checks neither that it exists nor the policy.
MOTO_ISSUER_PRINCIPAL = "arn:aws:iam::123456789012:role/signet-issuer"
MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SIGNET_KMS_ISSUER_PRINCIPAL": MOTO_ISSUER_PRINCIPAL,
}
# botocore looks for credentials at the EC2 metadata address when none are set; tests
# must never send traffic off this machine.
NO_METADATA = {"AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A free port whose next port is free too (`signet dev` puts the demo at SIGNET_PORT + 1)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two adjacent free loopback ports")


class Service:
    """A subprocess with its output in a temp file, shown when it fails to become ready."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"signet-{name}-", suffix=".log", delete=False)
        full_env = {**os.environ, **NO_METADATA, **(env or {})}
        self.process = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.output()}")
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not answering at {url} after {timeout}s:\n{self.output()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def start_moto(corrected: bool = True) -> tuple[Service, str]:
    port = free_port()
    argv = [sys.executable, "-m", "tests.support.moto_kms", "--port", str(port)]
    if not corrected:
        argv.append("--uncorrected")
    service = Service("moto", argv, MOTO_CREDENTIALS)
    endpoint = f"http://127.0.0.1:{port}"
    service.wait_http(endpoint + "/moto-api/")
    return service, endpoint


def moto_kms_client(endpoint: str) -> Any:
    """A boto3 KMS client on a moto server, for arranging keys in tests."""
    return boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def start_fault_proxy(upstream: str) -> tuple[Service, str]:
    """A fault-injecting proxy in front of `upstream` (see fault_proxy.py); returns its URL."""
    port = free_port()
    service = Service("fault-proxy", [sys.executable, "-m", "tests.support.fault_proxy",
                                      "--upstream", upstream, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    service.wait_http(url + "/__fault__")
    return service, url


@dataclass
class RunningIssuer:
    """An issuer process started by `make_issuer`: its address, settings and client secrets."""

    service: Service
    base: str
    env: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)



def start_issuer(env: Mapping[str, str], wait: bool = True) -> tuple[Service, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]
    service = Service("issuer", argv, {**MOTO_CREDENTIALS, "SIGNET_ISSUER": base, **env})
    if wait:
        service.wait_http(base + "/healthz")
    return service, base


def wait_port(port: int, timeout: float = 10.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def start_redis() -> tuple[Service, str]:
    port = free_port()
    service = Service("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"])
    try:
        wait_port(port)
    except RuntimeError as exc:
        raise RuntimeError(f"redis-server did not start ({exc}):\n{service.output()}") from None
    return service, f"redis://127.0.0.1:{port}/0"


class ThreadServer:
    """uvicorn serving an app object from this process, for tests that inject faults into
    the app's own parts (a backend that fails on demand). Still real HTTP on loopback."""

    def __init__(self, app: object) -> None:
        import threading

        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,  # type: ignore[arg-type]
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("in-process uvicorn did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_demo(env: Mapping[str, str]) -> tuple[Service, str]:
    """The demo downstream service (app.demo:app, protected by the verifier) under uvicorn."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "app.demo:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]
    service = Service("demo", argv, env)
    service.wait_http(base + "/healthz")
    return service, base


def json_error_message(output: str, expected: str) -> str:
    """The message of the one (JSON) error line that says `expected`; every line is JSON."""
    lines = [json.loads(x) for x in output.splitlines() if x.strip()]
    errors = [x for x in lines if expected in x["message"]]
    assert len(errors) == 1 and errors[0]["level"] == "error", output
    return str(errors[0]["message"])
