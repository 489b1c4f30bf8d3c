"""Graceful shutdown of `signet serve`, and key ring writes that survive SIGKILL.

Real: moto's KMS server, the issuer (`python -m app serve`, uvicorn) as a subprocess, the
SIGTERM/SIGKILL signals. Injected: KMS latency (or a hang) by tests/support/fault_proxy.py
between the issuer and moto, so requests are still in flight when the signal comes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from signet.keyring import KeyState
from signet.keys.ringfile import RingFile
from tests import independent_jwk
from tests.support.processes import ROOT, Service, free_port, start_fault_proxy
from tests.support.ring_writer import expected_ring
from tests.support.tokens import add_client, audit_lines

AUDIENCE = "api://drain"
IN_FLIGHT = 5


@pytest.fixture
def kms_proxy(moto_endpoint: str) -> Iterator[str]:
    service, url = start_fault_proxy(moto_endpoint)
    yield url
    service.stop()


def serve(tmp_path: Path, kms: Any, kms_proxy: str, **extra: str) -> tuple[Service, str, str]:
    """`signet serve` signing with a fixed moto key reached through the fault proxy."""
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = Service("serve", [sys.executable, "-m", "app", "serve"], {
        **env, "SIGNET_PORT": str(port), "SIGNET_ISSUER": base, "SIGNET_KEY_BACKEND": "kms",
        "SIGNET_KMS_KEY_ID": key_id, "SIGNET_KMS_ENDPOINT_URL": kms_proxy,
        "SIGNET_KMS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", **extra})
    service.wait_http(base + "/healthz")
    return service, base, secret


def inject(proxy: str, **fault: object) -> None:
    httpx.post(proxy + "/__fault__", json=fault).raise_for_status()


def sign_calls(proxy: str) -> int:
    return int(httpx.get(proxy + "/__fault__").json()["calls"].get("Sign", 0))


def start_requests(base: str, secret: str, count: int) -> tuple[list[threading.Thread], list[Any]]:
    results: list[Any] = [None] * count

    def one(index: int) -> None:
        try:
            results[index] = httpx.post(base + "/token", data={"grant_type": "client_credentials"},
                                        auth=("svc", secret), timeout=120)
        except httpx.HTTPError as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def refuses_connections(base: str) -> bool:
    try:
        httpx.get(base + "/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_sigterm_finishes_in_flight_token_requests_and_exits_0(
        tmp_path: Path, kms: Any, kms_proxy: str) -> None:
    service, base, secret = serve(tmp_path, kms, kms_proxy)
    try:
        jwks_before = httpx.get(base + "/.well-known/jwks.json").json()
        before = sign_calls(kms_proxy)
        inject(kms_proxy, delay_ms=4000)  # every KMS call now takes 4 s
        threads, results = start_requests(base, secret, IN_FLIGHT)
        wait_for(lambda: sign_calls(kms_proxy) >= before + IN_FLIGHT)  # all N are at KMS
        os.kill(service.process.pid, signal.SIGTERM)
        wait_for(lambda: refuses_connections(base))
        still_in_flight = sum(thread.is_alive() for thread in threads)
        for thread in threads:
            thread.join(120)
        assert still_in_flight > 0  # new connections were refused while requests were running
        assert service.wait_exit(60) == 0
        for response in results:
            assert isinstance(response, httpx.Response), repr(response)
            assert response.status_code == 200, response.text
        issued = audit_lines(service, "token_issued")
        assert len(issued) == IN_FLIGHT  # no token signed whose response was not sent
        for response in results:
            verify_with_jwks(response.json()["access_token"], jwks_before, base)
    finally:
        inject(kms_proxy, delay_ms=0)
        service.stop()


def verify_with_jwks(token: str, jwks: dict[str, Any], issuer: str) -> None:
    """The issuer is gone: check the token against the JWKS it published before."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=AUDIENCE, issuer=issuer)
    independent_jwk.verify_compact(token, jwk)
    assert claims["client_id"] == "svc"


def test_shutdown_is_bounded_by_the_grace_setting(tmp_path: Path, kms: Any, kms_proxy: str) -> None:
    """KMS hangs far longer than the grace: the issuer cancels the stuck requests when the
    grace ends, exits 0, and has signed nothing it did not send."""
    service, base, secret = serve(tmp_path, kms, kms_proxy, SIGNET_SHUTDOWN_GRACE_SECONDS="1",
                                  SIGNET_KMS_TIMEOUT_SECONDS="60", SIGNET_KMS_DEADLINE_SECONDS="120")
    try:
        before = sign_calls(kms_proxy)
        inject(kms_proxy, fault="hang", operations=["Sign"])
        threads, results = start_requests(base, secret, 2)
        wait_for(lambda: sign_calls(kms_proxy) >= before + 2)
        os.kill(service.process.pid, signal.SIGTERM)
        assert service.wait_exit(30) == 0  # without the bound: 60 s per KMS attempt
        for thread in threads:
            thread.join(30)
        assert not any(isinstance(r, httpx.Response) and r.status_code == 200 for r in results)
        assert audit_lines(service, "token_issued") == []
    finally:
        inject(kms_proxy, fault="none")
        service.stop()


def test_ring_file_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    """A writer rewrites keyring.json in a loop; we SIGKILL it at random instants, many
    times. Every time, the file parses and is exactly one of the rings written."""
    rng = random.Random(8)
    ring = RingFile(tmp_path)
    versions = []
    for _ in range(25):
        writer = subprocess.Popen([sys.executable, "-m", "tests.support.ring_writer", str(tmp_path)],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))
        writer.kill()
        writer.wait()
        writer.stdout.close()
        snapshot = ring.read()  # raises if half-written
        assert snapshot.records == expected_ring(snapshot.version)
        assert [r.state for r in snapshot.records].count(KeyState.ACTIVE) == 1
        versions.append(snapshot.version)
    assert versions == sorted(versions) and versions[-1] > 25  # the kills hit a busy writer
    ring.write(versions[-1], expected_ring(versions[-1] + 1))  # the next write tidies up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json", "keyring.lock"]
