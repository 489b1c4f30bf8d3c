"""SIGNET_KMS_MAX_CONCURRENCY bounds this process's share of the account-wide KMS Sign
quota: however many tokens are asked for at once, no more Sign calls are in flight. The
calls go through the fault-injecting proxy in front of the real moto server, used here
only to slow Sign down and count what is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from signet.algorithms import ALGORITHMS
from signet.keys.kms import KmsKeyBackend
from signet.keys.kms_client import KmsClient
from tests.support.processes import start_fault_proxy

BOUND = 4


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str) -> Iterator[str]:
    service, url = start_fault_proxy(moto_endpoint)
    yield url
    service.stop()


async def test_sign_calls_in_flight_never_exceed_the_bound(proxy: str, kms, moto_session) -> None:  # type: ignore[no-untyped-def]
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    client = KmsClient(endpoint_url=proxy, region="us-east-1", session=moto_session, max_concurrency=BOUND)
    backend = KmsKeyBackend(key_id, ALGORITHMS["ES256"], client=client)
    await backend.open()
    try:
        httpx.post(proxy + "/__fault__", json={"delay_ms": 200, "operations": ["Sign"]}).raise_for_status()
        key = backend.signing_key()
        signatures = await asyncio.gather(*(key.sign(b"%d" % i) for i in range(4 * BOUND)))
        report = httpx.get(proxy + "/__fault__").json()
    finally:
        httpx.post(proxy + "/__fault__", json={}).raise_for_status()
        await backend.aclose()
    assert len(signatures) == 4 * BOUND and all(len(s) == 64 for s in signatures)
    assert report["max_in_flight"] == BOUND  # reached, never passed
