"""KMS misbehaving, injected by a proxy in front of the real moto server (fault injection
only): throttling and 5xx are retried, persistent faults fail fast and clearly, a hung or
dropped connection never hangs the issuer, and /readyz follows KMS health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.keys.base import KeyUnavailableError
from signet.keys.kms import KmsKeyBackend
from signet.keys.kms_client import KmsClient
from tests.support.processes import start_fault_proxy, start_issuer


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str) -> Iterator[str]:
    service, url = start_fault_proxy(moto_endpoint)
    yield url
    service.stop()


def _fault(proxy: str, **settings: object) -> None:
    httpx.post(proxy + "/__fault__", json=settings).raise_for_status()


def _report(proxy: str) -> dict:  # type: ignore[type-arg]
    return httpx.get(proxy + "/__fault__").json()


@pytest.fixture
async def backend(proxy, kms, moto_session) -> AsyncIterator[KmsKeyBackend]:  # type: ignore[no-untyped-def]
    _fault(proxy)
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    client = KmsClient(endpoint_url=proxy, region="us-east-1", session=moto_session,
                       timeout_seconds=0.5, deadline_seconds=2)
    b = KmsKeyBackend(key_id, ALGORITHMS["ES256"], client=client)
    await b.open()
    yield b
    _fault(proxy)
    await b.aclose()


async def test_transient_throttling_is_retried(backend: KmsKeyBackend, proxy: str) -> None:
    _fault(proxy, fault="throttle", every=3, operations=["Sign"])
    key = backend.signing_key()
    sigs = [await key.sign(b"msg %d" % i) for i in range(12)]
    assert all(signatures.verify(key.published.alg, key.published.public_key, b"msg %d" % i, s)
               for i, s in enumerate(sigs))
    assert _report(proxy)["faults"]["Sign"] >= 4, "every third Sign was throttled"


async def test_a_throttled_sign_is_tried_three_times_in_all(  # type: ignore[no-untyped-def]
        proxy: str, kms, moto_session) -> None:
    """The docs promise 3 attempts per KMS call (botocore standard mode); botocore's
    `max_attempts` would mean 3 retries, 4 attempts, so the proxy counts them."""
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    client = KmsClient(endpoint_url=proxy, region="us-east-1", session=moto_session,
                       timeout_seconds=0.5, deadline_seconds=30)
    backend = KmsKeyBackend(key_id, ALGORITHMS["ES256"], client=client)
    _fault(proxy)
    await backend.open()
    try:
        before = _report(proxy)["faults"].get("Sign", 0)  # the proxy counts for its lifetime
        _fault(proxy, fault="throttle", operations=["Sign"])
        with pytest.raises(KeyUnavailableError, match="ThrottlingException"):
            await backend.signing_key().sign(b"x")
        assert _report(proxy)["faults"]["Sign"] - before == 3
    finally:
        _fault(proxy)
        await backend.aclose()


@pytest.mark.parametrize("fault", ["throttle", "500", "drop", "hang"])
async def test_persistent_fault_fails_clearly_within_the_deadline(
        backend: KmsKeyBackend, proxy: str, fault: str) -> None:
    _fault(proxy, fault=fault, operations=["Sign"])
    started = time.monotonic()
    with pytest.raises(KeyUnavailableError, match="KMS sign"):
        # the outer bound only guards the test run; the deadline inside Signet must fire first
        await asyncio.wait_for(backend.signing_key().sign(b"x"), timeout=60)
    assert time.monotonic() - started < 60
    _fault(proxy)
    assert await backend.signing_key().sign(b"x"), "recovers once KMS does"


def test_readyz_follows_kms_faults(proxy: str, kms) -> None:  # type: ignore[no-untyped-def]
    _fault(proxy)
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    service, base = start_issuer({
        "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id, "SIGNET_KMS_ENDPOINT_URL": proxy,
        "SIGNET_KMS_REGION": "us-east-1", "SIGNET_KMS_TIMEOUT_SECONDS": "0.5",
        "SIGNET_KMS_DEADLINE_SECONDS": "1.5", "SIGNET_READINESS_TIMEOUT_SECONDS": "3"})
    try:
        assert httpx.get(base + "/readyz").status_code == 200
        _fault(proxy, fault="500", operations=["DescribeKey"])

        def wait_for(status: int) -> httpx.Response:
            deadline = time.monotonic() + 30
            while (response := httpx.get(base + "/readyz", timeout=10)).status_code != status:
                assert time.monotonic() < deadline, f"/readyz never answered {status}"
                time.sleep(0.3)
            return response

        unready = wait_for(503)
        assert unready.json()["status"] == "unready" and "KMS" in unready.json()["reason"]
        assert httpx.get(base + "/healthz").status_code == 200
        _fault(proxy)
        wait_for(200)
    finally:
        _fault(proxy)
        service.stop()


async def test_concurrent_signs_reach_kms_concurrently(backend: KmsKeyBackend, proxy: str) -> None:
    """32 signs at once are 32 KMS calls in flight (botocore's pool of 10 would cap it)."""
    _fault(proxy, delay_ms=300, operations=["Sign"])
    key = backend.signing_key()
    await asyncio.gather(*(key.sign(b"%d" % i) for i in range(32)))
    assert _report(proxy)["max_in_flight"] >= 30
