"""Redis Cluster and Sentinel through the one URL parser (signet/redis_url.py), against real
servers: a 3-master cluster (`redis-server --cluster-enabled yes` + `redis-cli --cluster
create`) and a sentinel (`redis-server --sentinel`) in front of a primary, all on loopback.
Nothing is injected: each test uses the same code paths the issuer and verifiers run."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

from app.state.redis_link import RedisLink, RedisUnavailable
from app.token.throttle import FailureThrottle, ThrottleLimits, _counter
from signet.channels import ISSUER_KEYS_CHANGED
from signet.keys.attested_store import AttestedKeyStore
from signet.keys.base import KeyUnavailableError
from signet.keys.ringlock import RedisRingLock
from signet.redis_url import redis_from_url
from signet.verifier import Verifier
from tests.support.processes import RunningIssuer, Service, start_issuer
from tests.support.redis_servers import RedisCluster as ClusterProcesses
from tests.support.redis_servers import RedisSentinel
from tests.support.tokens import add_client, post_token

AUDIENCE = "api://topology"


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterProcesses]:
    """One real 3-master cluster for the whole session (it costs one start)."""
    cluster = ClusterProcesses().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    sentinel = RedisSentinel().start()
    yield sentinel
    sentinel.stop()


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> tuple[str, str]:
    """A real issuer (local keys) and a client secret: tokens for the verifiers to check."""
    running = make_issuer(clients={"svc": ("--scope", "read", "--audience", AUDIENCE)})
    return running.base, running.secrets["svc"]


async def poll(check: Callable[[], Any], attempts: int = 300) -> bool:
    """Await `check` (sync or async) every 0.2 s until it is true; False if it never is."""
    for _ in range(attempts):
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return True
        await asyncio.sleep(0.2)
    return False


def fresh_token(base: str, secret: str) -> str:
    response = post_token(base, {"grant_type": "client_credentials"}, auth=("svc", secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def sync_cluster(cluster: ClusterProcesses) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in cluster.nodes])


# -- the URL forms ----------------------------------------------------------------------

# -- Redis Cluster ------------------------------------------------------------------------

def test_cluster_url_gives_a_cluster_client(redis_cluster: ClusterProcesses) -> None:
    assert isinstance(redis_from_url(redis_cluster.url), AsyncRedisCluster)


async def test_issuer_throttle_counters_on_a_cluster(redis_cluster: ClusterProcesses) -> None:
    """The client's and the address's counters hash to different slots: each is counted."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    link = RedisLink(redis_cluster.url, prefix)
    throttle = FailureThrottle(ThrottleLimits(per_client=2, per_address=50, window_seconds=60), link)
    try:
        assert await throttle.retry_after("svc", "10.0.0.1") is None
        await throttle.record_failure("svc", "10.0.0.1")
        await throttle.record_failure("svc", "10.0.0.2")
        assert await throttle.retry_after("svc", "10.0.0.9") is not None  # client at its limit
        assert throttle.memory.get(next(iter(throttle._counters("svc", "x")))[0]) is None
    finally:
        await link.aclose()
    counters = [key for key in sync_cluster(redis_cluster).scan_iter(match=prefix + "authfail:*",
                                                                     target_nodes=RedisCluster.ALL_NODES)]
    assert len(counters) == 3  # two addresses and one client, all in the cluster


async def test_delegated_key_store_on_a_cluster(redis_cluster: ClusterProcesses) -> None:
    """Delegated mode shares every replica's attested keys through the same URL forms."""
    store = AttestedKeyStore.from_url(redis_cluster.url, f"d-{uuid.uuid4().hex[:8]}:", "https://issuer.test")
    now = time.time()
    try:
        await store.put("attestation-a", now + 60, now)
        await store.put("attestation-b", now + 120, now)
        await store.shorten("attestation-b", now + 30)
        assert await store.live(now) == {"attestation-a": now + 60, "attestation-b": now + 30}
    finally:
        await store.aclose()


async def test_ring_lock_on_a_cluster(redis_cluster: ClusterProcesses) -> None:
    """Replicas take turns through the key ring lock; the fencing number grows."""
    name = f"signet:kms-ring:{uuid.uuid4().hex[:8]}:lock"
    first = RedisRingLock(redis_from_url(redis_cluster.url), name, ttl=10, wait=0.3)
    second = RedisRingLock(redis_from_url(redis_cluster.url), name, ttl=10, wait=0.3)
    try:
        async with first.hold() as fence:
            await first.check()
            with pytest.raises(KeyUnavailableError, match="busy"):
                async with second.hold():
                    pass
        async with second.hold() as next_fence:
            await second.check()
        assert next_fence == fence + 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_verifier_shares_keys_and_hears_announcements_on_a_cluster(
        redis_cluster: ClusterProcesses, issuer: tuple[str, str]) -> None:
    base, secret = issuer
    token = fresh_token(base, secret)
    prefix = f"v-{uuid.uuid4().hex[:8]}:"
    verifier = Verifier(issuer=base, audience=AUDIENCE, redis_url=redis_cluster.url, redis_prefix=prefix)
    try:
        claims = await verifier.verify(token)
        assert claims["client_id"] == "svc"
        cluster = sync_cluster(redis_cluster)
        assert cluster.get(f"{prefix}jwks:{base}") is not None  # the fleet's shared entry
        before = verifier.stats.issuer_announcements
        deadline = time.monotonic() + 20
        while verifier.stats.issuer_announcements == before and time.monotonic() < deadline:
            cluster.publish(ISSUER_KEYS_CHANGED, base.encode())  # as the issuer does on rotation
            await asyncio.sleep(0.3)
        assert verifier.stats.issuer_announcements > before  # cluster pub/sub reached it
        assert verifier.stats.redis_errors == 0
    finally:
        await verifier.aclose()


def test_issuer_process_on_a_cluster_counts_failures_there(
        redis_cluster: ClusterProcesses, tmp_path: Path) -> None:
    """The issuer under uvicorn with SIGNET_REDIS_URL=redis+cluster://...: tokens, and
    its throttling counters land in the cluster."""
    prefix = f"i-{uuid.uuid4().hex[:8]}:"
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"), "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "k"),
           "SIGNET_REDIS_URL": redis_cluster.url, "SIGNET_REDIS_PREFIX": prefix}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    service: Service
    service, base = start_issuer(env)
    try:
        ok = post_token(base, {"grant_type": "client_credentials"}, auth=("svc", secret))
        assert ok.status_code == 200, ok.text
        bad = post_token(base, {"grant_type": "client_credentials"}, auth=("svc", "wrong"))
        assert bad.status_code == 401
        keys = list(sync_cluster(redis_cluster).scan_iter(match=prefix + "authfail:*",
                                                          target_nodes=RedisCluster.ALL_NODES))
        assert len(keys) == 2
        assert "redis unavailable" not in service.output()
        assert httpx.get(base + "/readyz").status_code == 200
    finally:
        service.stop()


# -- Sentinel -----------------------------------------------------------------------------

async def test_sentinel_url_reaches_the_primary(redis_sentinel: RedisSentinel) -> None:
    prefix = f"s-{uuid.uuid4().hex[:8]}:"
    link = RedisLink(redis_sentinel.url, prefix)
    try:
        await link.run(lambda client: client.set(link.key("probe"), b"1"))
    finally:
        await link.aclose()
    assert redis_sentinel.primary.client().get(prefix + "probe") == b"1"


async def test_verifier_and_ring_lock_through_sentinel(
        redis_sentinel: RedisSentinel, issuer: tuple[str, str]) -> None:
    base, secret = issuer
    token = fresh_token(base, secret)
    prefix = f"vs-{uuid.uuid4().hex[:8]}:"
    verifier = Verifier(issuer=base, audience=AUDIENCE, redis_url=redis_sentinel.url, redis_prefix=prefix)
    lock = RedisRingLock(redis_from_url(redis_sentinel.url), prefix + "ring:lock", ttl=10, wait=1)
    try:
        assert (await verifier.verify(token))["sub"] == "svc"
        assert redis_sentinel.primary.client().get(f"{prefix}jwks:{base}") is not None
        async with lock.hold() as fence:
            await lock.check()
        assert fence == 1
    finally:
        await verifier.aclose()
        await lock.aclose()


async def test_sentinel_failover_is_followed_by_issuer_and_verifier(issuer: tuple[str, str]) -> None:
    """The primary is SIGKILLed; the sentinel promotes the replica; the issuer's Redis link
    and a verifier's shared cache write to the new primary without being told."""
    sentinel = RedisSentinel(service="failover", replica=True).start()
    assert sentinel.replica is not None
    base, secret = issuer
    prefix = f"fo-{uuid.uuid4().hex[:8]}:"
    link = RedisLink(sentinel.url, prefix)
    verifier = Verifier(issuer=base, audience=AUDIENCE, redis_url=sentinel.url, redis_prefix=prefix,
                        min_cache_seconds=0.5, max_cache_seconds=1, http_timeout_seconds=1)
    try:
        assert (await verifier.verify(fresh_token(base, secret)))["sub"] == "svc"
        old_primary = sentinel.primary.port
        sentinel.primary.kill()
        assert await poll(lambda: sentinel.primary_port() != old_primary)
        assert sentinel.primary_port() == sentinel.replica.port  # promoted
        new_primary = sentinel.replica.client()
        new_primary.delete(f"{prefix}jwks:{base}")  # copied by replication: start from nothing

        async def issuer_writes() -> bool:
            link._paused_until = 0.0  # skip the link's 5 s pause between tries: this test polls
            try:
                await link.run(lambda client: client.set(link.key("after-failover"), b"1"))
            except RedisUnavailable:  # until the client has asked the sentinel again
                return False
            return True

        assert await poll(issuer_writes)
        assert new_primary.get(prefix + "after-failover") == b"1"
        assert await poll(lambda: new_primary.get(f"{prefix}jwks:{base}") is not None)  # refilled
        assert (await verifier.verify(fresh_token(base, secret)))["sub"] == "svc"
    finally:
        await verifier.aclose()
        await link.aclose()
        sentinel.stop()


def test_issuer_keeps_issuing_when_a_cluster_master_dies(tmp_path: Path) -> None:
    """A master of a (separate, real) cluster is SIGKILLed: its slots are gone, so some
    counters cannot be reached; the issuer answers every request right, from memory."""
    cluster = ClusterProcesses().start()
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"), "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "k"),
           "SIGNET_REDIS_URL": cluster.url, "SIGNET_AUTH_FAILURES_PER_CLIENT": "1000",
           "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000"}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    service, base = start_issuer(env)
    try:
        form = {"grant_type": "client_credentials"}
        assert post_token(base, form, auth=("svc", secret)).status_code == 200
        counter = "signet:" + _counter("client", "svc")  # on every request for this client
        owner = sync_cluster(cluster).get_node_from_key(counter).port
        next(node for node in cluster.nodes if node.port == owner).kill()
        for _ in range(10):
            assert post_token(base, form, auth=("svc", secret)).status_code == 200
            assert post_token(base, form, auth=("svc", "bad")).status_code == 401
        assert "redis unavailable" in service.output()
        assert "Traceback" not in service.output()
    finally:
        service.stop()
        cluster.stop()


def test_issuer_follows_a_cluster_failover(tmp_path: Path) -> None:
    """Six real nodes (3 masters, 3 replicas). The master holding the client's counter is
    SIGKILLed; its replica takes over; the issuer issues throughout and its counters land
    in the cluster again, on the promoted replica, without a restart."""
    cluster = ClusterProcesses(replicas=1).start()
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"), "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "k"),
           "SIGNET_REDIS_URL": cluster.url, "SIGNET_AUTH_FAILURES_PER_CLIENT": "1000",
           "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000"}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    service, base = start_issuer(env)
    form = {"grant_type": "client_credentials"}
    counter = "signet:" + _counter("client", "svc")
    try:
        assert post_token(base, form, auth=("svc", secret)).status_code == 200
        owner = sync_cluster(cluster).get_node_from_key(counter).port
        master = next(node for node in cluster.nodes if node.port == owner)
        survivors = [node for node in cluster.nodes if node is not master]
        master.kill()
        assert post_token(base, form, auth=("svc", secret)).status_code == 200
        assert cluster.wait_failover(master)  # a replica took the slots over
        view = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in survivors])
        view.delete(counter)

        def counted_in_cluster() -> bool:
            assert post_token(base, form, auth=("svc", "bad")).status_code == 401
            assert post_token(base, form, auth=("svc", secret)).status_code == 200
            return view.get(counter) is not None

        deadline = time.monotonic() + 60
        while not counted_in_cluster() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert view.get(counter) is not None
        assert view.get_node_from_key(counter).port != owner
        assert "Traceback" not in service.output()
    finally:
        service.stop()
        cluster.stop()
