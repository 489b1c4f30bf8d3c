"""Real parts for the whole suite: moto's KMS server (corrected, over HTTP) and Redis."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import aioboto3
import pytest

from tests.support import fuzzing  # noqa: F401  # Hypothesis profiles, for every property test
from tests.support.processes import (
    MOTO_CREDENTIALS,
    NO_METADATA,
    RunningIssuer,
    Service,
    moto_kms_client,
    start_issuer,
    start_moto,
    start_redis,
)
from tests.support.tokens import add_client

os.environ.update(NO_METADATA)

# The tier of a test is its folder; each is also a marker (`pytest -m unit`, `-m "not load"`).
TIERS = ("unit", "integration", "interop", "deploy", "load")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).resolve().relative_to(TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    service, endpoint = start_moto()
    yield endpoint
    service.stop()


@pytest.fixture(scope="session")
def kms(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 KMS client on the moto server, for arranging keys in tests."""
    return moto_kms_client(moto_endpoint)


@pytest.fixture(scope="session")
def moto_session() -> aioboto3.Session:
    return aioboto3.Session(
        aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=MOTO_CREDENTIALS["AWS_DEFAULT_REGION"])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """SIGNET_REDIS_URL, else the machine's Redis on 6379, else a redis-server we start."""
    import redis

    candidate = os.environ.get("SIGNET_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(candidate, socket_timeout=1).ping()
        yield candidate
        return
    except redis.RedisError:
        pass
    service: Service
    service, url = start_redis()
    yield url
    service.stop()


@pytest.fixture(scope="module")
def make_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningIssuer]]:
    """The one way integration tests start an issuer (uvicorn app.main:app on a loopback port,
    local keys, its own clients file): `make_issuer(env, clients={"svc": ("--scope", "read",
    "--audience", "api://x")})`. Every issuer a module starts is stopped after the module."""
    started: list[Service] = []

    def make(env: Mapping[str, str] | None = None,
             clients: Mapping[str, Sequence[str]] | None = None) -> RunningIssuer:
        tmp = tmp_path_factory.mktemp("issuer")
        full = {"SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"), "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"),
                **(env or {})}
        secrets = {name: add_client(full, name, *args) or "" for name, args in (clients or {}).items()}
        service, base = start_issuer(full)
        started.append(service)
        return RunningIssuer(service, base, full, secrets)

    yield make
    for service in started:
        service.stop()
