"""`signet check`: a read-only pre-flight of everything `signet serve` needs.

One line per check, `ok NAME: detail` or `FAIL NAME: reason`, then the exit status:
0 every check passed, 1 a check failed, 2 the settings themselves are invalid (nothing
else can be checked). Nothing is created or changed: no key directory, no key, no ring
entry, no Redis key, no KMS key, alias, tag or signature (KMS Sign is asked with DryRun).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from signet.algorithms import Algorithm, get_algorithm
from signet.keyring import KeyRecord, RingSnapshot, active_key, published_keys
from signet.keys.base import KeyBackendError

from ..settings import ConfigurationError, Settings, load_settings
from ..token.registry import RegistryError, read_registry

EXIT_OK, EXIT_FAILED, EXIT_CONFIGURATION = 0, 1, 2
REDIS_TIMEOUT_SECONDS = 3.0


class CheckFailed(Exception):
    """One check did not pass; str() is the reason printed after `FAIL name:`."""


Check = Callable[[Settings], Awaitable[str]]


async def check_clients(settings: Settings) -> str:
    """The clients file exactly as `serve` reads it (app.token.registry.read_registry)."""
    path = settings.clients_file
    try:
        clients = read_registry(path)
    except RegistryError as exc:
        raise CheckFailed(f"SIGNET_CLIENTS_FILE: {exc}") from None
    if not path.exists():
        return f"{path} does not exist: no clients, every token request is refused"
    enabled = sum(c.enabled for c in clients.values())
    mode = path.stat().st_mode & 0o777
    exposed = f" (mode {oct(mode)}: readable by group or others, chmod 600 it)" if mode & 0o077 else ""
    return f"{path}: {len(clients)} client(s), {enabled} enabled{exposed}"


async def check_redis(settings: Settings) -> str:
    """PING only: reading nothing, writing nothing."""
    if not settings.redis_url:
        return "not configured (SIGNET_REDIS_URL unset): counters and replay records stay in memory"
    from redis.exceptions import RedisError

    from signet.redis_url import redis_from_url

    try:
        client = redis_from_url(settings.redis_url, timeout=REDIS_TIMEOUT_SECONDS)
    except ValueError as exc:
        raise CheckFailed(f"SIGNET_REDIS_URL: {exc}") from None
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS * 2):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        raise CheckFailed(f"SIGNET_REDIS_URL: cannot reach Redis: {type(exc).__name__}: {exc}") from None
    finally:
        await client.aclose()
    return "reachable (PING)"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _local_ring(key_dir: Path) -> RingSnapshot | None:
    from signet.keys.ringfile import RingFile

    ring = RingFile(key_dir)
    if not ring.exists():
        return None
    try:
        return ring.read()  # reading needs no lock
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"SIGNET_LOCAL_KEY_DIR: {ring.path} is unreadable: {exc}") from None


def _load_local_key(key_dir: Path, record: KeyRecord, alg: Algorithm) -> None:
    from signet.keys.local import LocalKeyBackend

    try:
        LocalKeyBackend(key_dir, alg)._load(key_dir / record.ref)
    except KeyBackendError as exc:
        raise CheckFailed(str(exc)) from None


async def check_local_keys(settings: Settings) -> str:
    """The key directory is readable and writable and its published keys load; nothing
    is created (a missing directory is fine when serve could create it)."""
    key_dir = settings.local_key_dir
    if not key_dir.exists():
        parent = _nearest_existing(key_dir.parent)
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise CheckFailed(f"SIGNET_LOCAL_KEY_DIR: {key_dir} does not exist and {parent}"
                              " is not a writable directory, so serve cannot create it")
        return f"{key_dir} does not exist yet; serve creates it and a first key"
    if not key_dir.is_dir():
        raise CheckFailed(f"SIGNET_LOCAL_KEY_DIR: {key_dir} is not a directory")
    if not os.access(key_dir, os.R_OK | os.W_OK | os.X_OK):
        raise CheckFailed(f"SIGNET_LOCAL_KEY_DIR: {key_dir} is not readable and writable")
    snapshot = _local_ring(key_dir)
    if snapshot is None:
        pems = sorted(key_dir.glob("*.pem"))
        return (f"{key_dir}: {len(pems)} key file(s), no keyring.json yet; serve adopts them"
                if pems else f"{key_dir}: empty; serve creates a first key")
    alg = get_algorithm(settings.signing_alg)
    for record in published_keys(snapshot.records):
        _load_local_key(key_dir, record, alg)
    active = active_key(snapshot.records, alg.name)
    signing = f"active kid={active.kid}" if active else f"no active {alg.name} key; serve creates one"
    return f"{key_dir}: {len(published_keys(snapshot.records))} published key(s), {signing}"


async def _kms_signable(client: Any, key_id: str, alg: Algorithm, sign: bool = True) -> None:
    """DescribeKey and GetPublicKey as the issuer makes them at start, then Sign with
    DryRun: AWS answers DryRunOperationException when the call would succeed, without
    signing (https://docs.aws.amazon.com/kms/latest/developerguide/programming-dryrun.html)."""
    from botocore.exceptions import ClientError

    from signet.keys.base import KeyConfigurationError
    from signet.keys.kms import check_signing_key, fetch_published_key
    from signet.keys.kms_client import digest, error_code

    try:
        metadata = (await client.at_startup("describe_key", KeyId=key_id))["KeyMetadata"]
        check_signing_key(metadata, alg, key_id)
        await fetch_published_key(client, metadata["Arn"], alg, at_startup=True)
    except KeyConfigurationError as exc:
        raise CheckFailed(str(exc)) from None
    if not sign:
        return
    try:
        await client.kms.sign(KeyId=metadata["Arn"], Message=digest(alg, b"signet check"),
                              MessageType="DIGEST", SigningAlgorithm=alg.kms_signing_algorithm,
                              DryRun=True)
    except ClientError as exc:
        if error_code(exc) != "DryRunOperationException":
            raise CheckFailed(f"KMS Sign (DryRun) on {key_id} refused: {error_code(exc)};"
                              " check the issuer's IAM and key policy (kms:Sign)") from None


async def check_kms_keys(settings: Settings) -> str:
    from signet.keys.base import KeyConfigurationError
    from signet.keys.kms_client import KmsClient

    alg = get_algorithm(settings.signing_alg)
    client = KmsClient(endpoint_url=settings.kms_endpoint_url, region=settings.kms_region,
                       timeout_seconds=settings.kms_timeout_seconds,
                       deadline_seconds=settings.kms_deadline_seconds, max_concurrency=4)
    try:
        await client.open()
    except KeyConfigurationError as exc:
        raise CheckFailed(str(exc)) from None
    try:
        if settings.kms_key_id:
            await _kms_signable(client, settings.kms_key_id, alg)
            return f"KMS key {settings.kms_key_id}: DescribeKey, GetPublicKey and Sign (DryRun) allowed"
        return await _check_kms_ring(settings, client, alg)
    finally:
        await client.aclose()


async def _check_kms_ring(settings: Settings, client: Any, alg: Algorithm) -> str:
    from signet.keys.kms_ring import KmsRingBackend

    from ..keys.backends import kms_ring_name

    ring = KmsRingBackend(kms_ring_name(settings), alg, client=client, lock=None)  # type: ignore[arg-type]
    try:
        snapshot = await ring.read_ring()  # ListAliases and ListResourceTags: read-only
    except KeyBackendError as exc:
        raise CheckFailed(f"KMS ring {ring.ring!r}: {exc}") from None
    active = active_key(snapshot.records, alg.name)
    if active is None:
        return (f"KMS ring {ring.ring!r}: no active {alg.name} key; serve creates one"
                " (the issuer needs kms:CreateKey, TagResource and CreateAlias)")
    for record in published_keys(snapshot.records):  # serve loads every published key
        if record.kid != active.kid:
            await _kms_signable(client, record.ref or record.kid, get_algorithm(record.alg), sign=False)
    await _kms_signable(client, active.ref or active.kid, alg)
    return (f"KMS ring {ring.ring!r}: {len(published_keys(snapshot.records))} published key(s),"
            f" active kid={active.kid}: DescribeKey, GetPublicKey and Sign (DryRun) allowed")


def checks_for(settings: Settings) -> list[tuple[str, Check]]:
    keys: Check = check_kms_keys if settings.key_backend == "kms" else check_local_keys
    return [("clients", check_clients), ("redis", check_redis), ("keys", keys)]


async def run_checks(settings: Settings, out: Callable[[str], None]) -> int:
    status = EXIT_OK
    for name, check in checks_for(settings):
        try:
            out(f"ok {name}: {await check(settings)}")
        except CheckFailed as exc:
            out(f"FAIL {name}: {exc}")
            status = EXIT_FAILED
    return status


def preflight(out: Callable[[str], None] = print) -> int:
    """Load the settings as serve does (a bad one: `FAIL settings`, exit 2), then each check."""
    from signet.keys.base import KeyConfigurationError

    from ..keys.backends import build_backend

    try:
        settings = load_settings()
        build_backend(settings)  # the combination rules serve applies; builds, opens nothing
    except (ConfigurationError, KeyConfigurationError) as exc:
        out(f"FAIL settings: {exc}")
        return EXIT_CONFIGURATION
    delegated = ", delegated signing" if settings.signing_mode == "delegated" else ""
    out(f"ok settings: issuer {settings.issuer_url}, key backend {settings.key_backend},"
        f" {settings.signing_alg}{delegated}")
    return asyncio.run(run_checks(settings, out))
