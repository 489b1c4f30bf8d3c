"""Redis as production should run it: TLS only (rediss://), the default user off, and an ACL
user that may touch only its deployment's key prefix. The issuer (throttling) and the
verifier (shared key cache) work through it, and write nothing outside SIGNET_REDIS_PREFIX /
SIGNET_VERIFIER_REDIS_PREFIX: the ACL would refuse it, and the issuer would log it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from signet.verifier import Verifier
from tests.support.processes import RunningIssuer, Service, start_issuer
from tests.support.secure_redis import SecureRedis, start_secure_redis

PREFIX = "acme-prod:"
AUD = "api://orders"


@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRedis]:
    server = start_secure_redis(tmp_path_factory.mktemp("redis-tls"), PREFIX)
    yield server
    server.service.stop()


@pytest.fixture(scope="module")
def issuer(secure_redis: SecureRedis, make_issuer: Callable[..., RunningIssuer]
           ) -> Iterator[tuple[Service, str, str]]:
    running = make_issuer({"SIGNET_REDIS_URL": secure_redis.url(), "SIGNET_REDIS_PREFIX": PREFIX + "issuer:",
                           "SIGNET_AUTH_FAILURES_PER_CLIENT": "2"},
                          clients={"orders": ("--scope", "read", "--audience", AUD)})
    service, base, secret = running.service, running.base, running.secrets["orders"]
    # A token first: the throttling test then locks this client out for the window.
    response = httpx.post(base + "/token", data={"grant_type": "client_credentials"},
                          auth=("orders", secret), timeout=30)
    assert response.status_code == 200, response.text
    yield service, base, response.json()["access_token"]
    service.stop()


def _all_keys(server: SecureRedis) -> list[str]:
    admin = redis.Redis.from_url(server.admin_url(), decode_responses=True)
    try:
        return sorted(admin.scan_iter(count=1000))
    finally:
        admin.close()


def test_the_server_enforces_tls_and_the_acl(secure_redis: SecureRedis) -> None:
    """The checks below mean something only if this Redis really refuses what it should."""
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(secure_redis.url(password="wrong-password")).ping()
    with pytest.raises(redis.ConnectionError):  # plain TCP to the TLS port
        redis.Redis.from_url(f"redis://127.0.0.1:{secure_redis.port}/0", socket_timeout=2).ping()
    client = redis.Redis.from_url(secure_redis.url())
    try:
        assert client.ping()
        client.set(PREFIX + "probe", b"1", ex=60)
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.set("other-deployment:probe", b"1")
    finally:
        client.close()


def test_issuer_shares_throttling_through_tls_and_acl(secure_redis: SecureRedis,
                                                     issuer: tuple[Service, str, str]) -> None:
    service, base, _ = issuer
    token_url = base + "/token"
    form = {"grant_type": "client_credentials"}
    statuses = [httpx.post(token_url, data=form, auth=("orders", "wrong"), timeout=30).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
    counters = [k for k in _all_keys(secure_redis) if k.startswith(PREFIX + "issuer:")]
    assert counters, _all_keys(secure_redis)  # the counts live in Redis, under the prefix
    assert "redis unavailable" not in service.output()


async def test_verifier_caches_keys_through_tls_and_acl(secure_redis: SecureRedis,
                                                        issuer: tuple[Service, str, str]) -> None:
    _, base, token = issuer
    verifier = Verifier(base, AUD, redis_url=secure_redis.url(), redis_prefix=PREFIX + "verifier:",
                        cache_integrity_key=b"integrity-key-for-the-tests-0123")
    try:
        claims = await verifier.verify(token)
        assert claims["client_id"] == "orders"
        assert verifier.stats.snapshot()["redis_errors"] == 0
    finally:
        await verifier.aclose()
    assert PREFIX + f"verifier:jwks:{base}" in _all_keys(secure_redis)


def test_nothing_is_written_outside_the_deployment_prefix(
        secure_redis: SecureRedis, issuer: tuple[Service, str, str]) -> None:
    keys = _all_keys(secure_redis)
    assert keys and all(key.startswith(PREFIX) for key in keys), keys


def test_managed_kms_ring_locks_under_the_prefix(secure_redis: SecureRedis, moto_endpoint: str) -> None:
    """The KMS ring lock (and its fencing counter) live under SIGNET_REDIS_PREFIX too: with
    the ACL above, a lock outside it could not even be taken and the issuer would not start."""
    ring = f"ring-{secure_redis.port}"
    service, base = start_issuer({
        "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_ENDPOINT_URL": moto_endpoint,
        "SIGNET_KMS_REGION": "us-east-1", "SIGNET_KMS_RING": ring, "SIGNET_ROTATION_PERIOD": "0",
        "SIGNET_REDIS_URL": secure_redis.url(),
        "SIGNET_REDIS_PREFIX": PREFIX + "issuer:"})
    try:
        assert httpx.get(base + "/readyz", timeout=30).json()["status"] == "ready"
    finally:
        service.stop()
    assert f"{PREFIX}issuer:kms-ring:{ring}:lock:fence" in _all_keys(secure_redis)


def test_issuer_settings_never_print_the_redis_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Redis ACL password lives in SIGNET_REDIS_URL; printing the settings must not show it."""
    from app.settings import load_settings

    settings = load_settings(redis_url="rediss://signet:s3cret-pw@redis.internal:6379/0",
                             clients_file=tmp_path / "clients.yaml")
    assert settings.redis_url is not None and "s3cret-pw" in settings.redis_url
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings)
