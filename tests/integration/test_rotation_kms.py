"""Rotation with the key ring kept in KMS itself (moto's server over HTTP) and replicas
coordinated through a real Redis lock. The clock is injected; nothing sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.keyring import Activate, CreatePending, RotationPolicy, Unpublish
from signet.keys.base import KeyUnavailableError
from signet.keys.kms_client import KmsClient
from signet.keys.kms_ring import ORPHAN_AFTER_SECONDS, KmsRingBackend
from signet.keys.ringlock import RedisRingLock
from signet.rotation import Rotator
from tests.support.clock import Clock
from tests.support.processes import MOTO_ISSUER_PRINCIPAL

POLICY = RotationPolicy(publish_lead=60, retire_after=120, rotation_period=600)


@pytest.fixture
def ring() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def make_replica(moto_endpoint, moto_session, redis_url, ring) -> AsyncIterator[Callable]:  # type: ignore[no-untyped-def]
    opened: list[KmsRingBackend] = []

    async def make(clock: Clock, alg: str = "ES256") -> tuple[KmsRingBackend, Rotator]:
        client = KmsClient(endpoint_url=moto_endpoint, region="us-east-1", session=moto_session)
        lock = RedisRingLock(redis.Redis.from_url(redis_url), f"signet-test:{ring}:lock")
        backend = KmsRingBackend(ring, ALGORITHMS[alg], client=client, lock=lock, clock=clock,
                                 deletion_window_days=7, issuer_principal=MOTO_ISSUER_PRINCIPAL)
        await backend.open()
        opened.append(backend)
        return backend, Rotator(backend, alg, POLICY, clock=clock)

    yield make
    for backend in opened:
        await backend.aclose()


def _ring_keys(kms, ring: str) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every key ever created for `ring`: key id -> (state tag, KMS key state)."""
    import boto3

    tagging = boto3.client("resourcegroupstaggingapi", endpoint_url=kms.meta.endpoint_url,
                           region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
    found = tagging.get_resources(TagFilters=[{"Key": "signet:ring", "Values": [ring]}],
                                  ResourceTypeFilters=["kms:key"])["ResourceTagMappingList"]
    keys = {}
    for item in found:
        key_id = item["ResourceARN"].rsplit("/", 1)[-1]
        tags = {t["Key"]: t["Value"] for t in item["Tags"]}
        keys[key_id] = (tags["signet:state"], kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
    return keys


def _aliases(kms, ring: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [a["AliasName"] for a in kms.list_aliases()["Aliases"]
            if a["AliasName"].startswith(f"alias/signet/{ring}/")]


async def test_first_start_creates_a_tagged_aliased_signing_key(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    backend, _ = await make_replica(Clock())
    key = backend.signing_key()
    assert _aliases(kms, ring) == [f"alias/signet/{ring}/{key.published.kid}"]
    assert list(_ring_keys(kms, ring).values()) == [("active", "Enabled")]
    sig = await key.sign(b"h.p")
    assert signatures.verify(key.published.alg, key.published.public_key, b"h.p", sig)
    again, _ = await make_replica(Clock())
    assert again.signing_key().published.kid == key.published.kid, "a restart finds the ring"


async def test_full_cycle_in_kms(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend, rotator = await make_replica(clock)
    first = backend.signing_key().published.kid
    clock.now += 540
    assert await rotator.converge() == [CreatePending("ES256")]
    assert sorted(s for s, _ in _ring_keys(kms, ring).values()) == ["active", "pending"]
    assert len(backend.published_keys()) == 2 and backend.signing_key().published.kid == first
    clock.now += 60
    [activate] = await rotator.converge()
    assert isinstance(activate, Activate) and backend.signing_key().published.kid == activate.kid
    clock.now += 120
    assert await rotator.converge() == [Unpublish(first)]
    assert [k.kid for k in backend.published_keys()] == [activate.kid]
    states = sorted(_ring_keys(kms, ring).values())
    assert states == [("active", "Enabled"), ("retired", "PendingDeletion")], "scheduled, not deleted"
    assert _aliases(kms, ring) == [f"alias/signet/{ring}/{activate.kid}"]


async def test_two_replicas_create_exactly_one_key_per_rotation(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    replicas = [await make_replica(clock), await make_replica(clock)]
    for _ in range(3):
        clock.now += 540
        await asyncio.gather(*(r.converge() for _, r in replicas))
        clock.now += 60
        await asyncio.gather(*(r.converge() for _, r in replicas))
        await asyncio.gather(*(r.reload() for _, r in replicas))
        assert len({b.signing_key().published.kid for b, _ in replicas}) == 1
    assert len(_ring_keys(kms, ring)) == 4, "bootstrap + exactly one key per rotation"


async def test_crash_between_create_and_alias_is_cleaned_up(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    _, rotator = await make_replica(clock)
    # The process dies right after CreateKey: a tagged key with no alias.
    orphan = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256", Tags=[
        {"TagKey": "signet:ring", "TagValue": ring}, {"TagKey": "signet:state", "TagValue": "creating"},
        {"TagKey": "signet:alg", "TagValue": "ES256"},
        {"TagKey": "signet:created-at", "TagValue": repr(clock.now)}])["KeyMetadata"]["KeyId"]
    await rotator.converge()
    assert _ring_keys(kms, ring)[orphan] == ("creating", "Enabled"), "too young: maybe in flight"
    clock.now += ORPHAN_AFTER_SECONDS
    await rotator.converge()
    assert _ring_keys(kms, ring)[orphan] == ("failed", "PendingDeletion")


async def test_crash_between_alias_and_ring_write_is_cleaned_up(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend, rotator = await make_replica(clock)
    async with backend.ring_lock():
        record = await backend.create_key("ES256")  # ...and the process dies before the ring write
    assert record.kid not in {k.kid for k in backend.published_keys()}
    await rotator.converge()
    assert _ring_keys(kms, ring)[record.ref] == ("failed", "PendingDeletion")
    assert len(_aliases(kms, ring)) == 1


async def test_emergency_retire_in_kms(make_replica, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend, rotator = await make_replica(clock)
    kid = backend.signing_key().published.kid
    await rotator.retire(kid)
    with pytest.raises(KeyUnavailableError):
        backend.signing_key()
    assert backend.published_keys() == []
    await rotator.converge()
    assert backend.signing_key().published.kid != kid
    assert ("retired", "PendingDeletion") in _ring_keys(kms, ring).values()


async def test_writes_need_the_lock(make_replica, ring) -> None:  # type: ignore[no-untyped-def]
    backend, _ = await make_replica(Clock())
    with pytest.raises(KeyUnavailableError, match="lock"):
        await backend.create_key("ES256")  # not holding the ring lock


def test_issuer_on_a_kms_ring_over_http(moto_endpoint, redis_url, ring) -> None:  # type: ignore[no-untyped-def]
    """The issuer process creates its KMS key on first start; `signet keys rotate` (another
    process) publishes a successor the running issuer serves within one reload."""
    import json
    import subprocess
    import sys
    import time

    import httpx

    from tests.support.processes import MOTO_CREDENTIALS, start_issuer

    env = {"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_ENDPOINT_URL": moto_endpoint,
           "SIGNET_KMS_REGION": "us-east-1", "SIGNET_REDIS_URL": redis_url, "SIGNET_KMS_RING": ring,
           "SIGNET_ROTATION_PERIOD": "0", "SIGNET_KEY_RING_RELOAD_SECONDS": "0.2"}
    service, base = start_issuer(env)
    try:
        ready = httpx.get(base + "/readyz").json()
        assert ready["status"] == "ready" and ready["backend"] == "kms"
        first = ready["kid"]
        assert [k["kid"] for k in httpx.get(base + "/.well-known/jwks.json").json()["keys"]] == [first]
        cli_env = {"PATH": "/usr/bin:/bin", **MOTO_CREDENTIALS, "AWS_EC2_METADATA_DISABLED": "true",
                   "SIGNET_ISSUER": base, **env}
        rotated = subprocess.run([sys.executable, "-m", "app", "keys", "rotate"], env=cli_env,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert rotated.returncode == 0, rotated.stderr
        new = rotated.stdout.split()[1]
        deadline = time.monotonic() + 30
        while len(httpx.get(base + "/.well-known/jwks.json").json()["keys"]) < 2:
            assert time.monotonic() < deadline, "running issuer never published the new key"
            time.sleep(0.1)
        listing = subprocess.run([sys.executable, "-m", "app", "keys", "list", "--json"], env=cli_env,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert {r["kid"]: r["state"] for r in json.loads(listing.stdout)} == {
            first: "active", new: "pending"}
    finally:
        service.stop()
