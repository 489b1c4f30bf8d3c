"""`signet check` against broken and working configurations: the exit code, the one line
per check, and that nothing was created on disk, in Redis or in KMS (moto over HTTP)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.processes import MOTO_CREDENTIALS, start_redis
from tests.support.tokens import add_client, run_cli


def _check(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The exit status and {check name: its line}."""
    done = run_cli({"SIGNET_REDIS_URL": "", **env}, "check", check=False)
    lines = done.stdout.strip().splitlines()
    assert done.stderr == "", done.stderr
    assert all(line.startswith(("ok ", "FAIL ")) for line in lines), lines
    return done.returncode, {line.split()[1].rstrip(":"): line for line in lines}


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_a_working_local_setup_passes_and_changes_nothing(tmp_path: Path) -> None:
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
           "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    run_cli(env, "keys", "list")  # a ring with one active key
    add_client(env, "svc", "--scope", "read", "--audience", "api://x")
    before = _tree(tmp_path)
    status, lines = _check(env)
    assert status == 0, lines
    assert list(lines) == ["settings", "clients", "redis", "keys"]
    assert lines["clients"].endswith(": 1 client(s), 1 enabled")
    assert "1 published key(s), active kid=" in lines["keys"]
    assert _tree(tmp_path) == before  # not even the ring's lock file
    (tmp_path / "clients.yaml").chmod(0o644)  # serve logs a warning for it; so does check
    status, lines = _check(env)
    assert status == 0 and lines["clients"].endswith(
        "1 client(s), 1 enabled (mode 0o644: readable by group or others, chmod 600 it)")


def test_a_missing_key_directory_is_not_created(tmp_path: Path) -> None:
    key_dir = tmp_path / "not" / "yet" / "keys"
    status, lines = _check({"SIGNET_LOCAL_KEY_DIR": str(key_dir),
                            "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")})
    assert status == 0 and lines["keys"] == (f"ok keys: {key_dir} does not exist yet;"
                                             " serve creates it and a first key")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("broken", ["file", "parent-file", "bad-ring", "bad-key"])
def test_an_unusable_key_directory_fails(tmp_path: Path, broken: str) -> None:
    key_dir = tmp_path / "keys"
    if broken == "file":
        key_dir.write_text("not a directory")
        expected = f"FAIL keys: SIGNET_LOCAL_KEY_DIR: {key_dir} is not a directory"
    elif broken == "parent-file":
        (tmp_path / "blocker").write_text("x")
        key_dir = tmp_path / "blocker" / "keys"
        expected = f"FAIL keys: SIGNET_LOCAL_KEY_DIR: {key_dir} does not exist and"
    else:
        run_cli({"SIGNET_LOCAL_KEY_DIR": str(key_dir)}, "keys", "list")
        if broken == "bad-ring":
            (key_dir / "keyring.json").write_text("{")
            expected = f"FAIL keys: SIGNET_LOCAL_KEY_DIR: {key_dir / 'keyring.json'} is unreadable"
        else:
            (pem,) = key_dir.glob("*.pem")
            pem.chmod(0o644)
            expected = f"FAIL keys: SIGNET_LOCAL_KEY_DIR: {pem} is accessible by group or others"
    before = _tree(tmp_path)
    status, lines = _check({"SIGNET_LOCAL_KEY_DIR": str(key_dir),
                            "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")})
    assert status == 1
    assert lines["keys"].startswith(expected), lines["keys"]
    assert lines["clients"].startswith("ok ") and lines["settings"].startswith("ok ")
    assert _tree(tmp_path) == before


def test_a_clients_file_serve_refuses_fails_the_check(tmp_path: Path) -> None:
    clients = tmp_path / "clients.yaml"
    clients.write_text("clients:\n  svc:\n    scopes: [read]\n    audiences: [api://x]\n")
    status, lines = _check({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
                            "SIGNET_CLIENTS_FILE": str(clients)})
    assert status == 1
    assert lines["clients"] == (f"FAIL clients: SIGNET_CLIENTS_FILE: {clients}: client 'svc':"
                                " needs a secret_hash or a jwks (or federated identities) to authenticate")
    assert not (tmp_path / "keys").exists()


def test_invalid_settings_exit_2_before_any_other_check(tmp_path: Path) -> None:
    status, lines = _check({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
                            "SIGNET_TOKEN_LIFETIME_SECONDS": "0"})
    assert status == 2
    assert list(lines) == ["settings"] and lines["settings"].startswith(
        "FAIL settings: SIGNET_TOKEN_LIFETIME_SECONDS")
    status, lines = _check({"SIGNET_KEY_BACKEND": "kms"})  # neither a key nor Redis for a ring
    assert status == 2 and lines["settings"].startswith("FAIL settings: SIGNET_REDIS_URL: required")


def test_redis_is_reached_read_only(tmp_path: Path) -> None:
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
           "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    status, lines = _check({**env, "SIGNET_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert status == 1 and lines["redis"].startswith(
        "FAIL redis: SIGNET_REDIS_URL: cannot reach Redis: ConnectionError")
    service, url = start_redis()
    try:
        status, lines = _check({**env, "SIGNET_REDIS_URL": url})
        assert status == 0 and lines["redis"] == "ok redis: reachable (PING)"
        assert redis.Redis.from_url(url, socket_timeout=2).dbsize() == 0
    finally:
        service.stop()


def _kms_env(moto_endpoint: str, **extra: str) -> dict[str, str]:
    return {**MOTO_CREDENTIALS, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_ENDPOINT_URL": moto_endpoint,
            "SIGNET_KMS_REGION": "us-east-1", "SIGNET_SIGNING_ALG": "ES256", **extra}


def _kms_state(kms: Any) -> tuple[int, int]:
    return len(kms.list_keys()["Keys"]), len(kms.list_aliases()["Aliases"])


def test_a_fixed_kms_key_is_described_and_read_without_signing(kms, moto_endpoint: str,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    rsa_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    clients = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    before = _kms_state(kms)
    status, lines = _check(_kms_env(moto_endpoint, SIGNET_KMS_KEY_ID=key_id, **clients))
    assert status == 0, lines
    assert lines["keys"] == (f"ok keys: KMS key {key_id}: DescribeKey, GetPublicKey and"
                             " Sign (DryRun) allowed")
    for wrong, expected in (("alias/signet-nowhere", "not found (NotFoundException)"),
                            (rsa_id, "ES256 needs a KMS key of spec ECC_NIST_P256")):
        status, lines = _check(_kms_env(moto_endpoint, SIGNET_KMS_KEY_ID=wrong, **clients))
        assert status == 1 and lines["keys"].startswith("FAIL keys: ") and expected in lines["keys"], lines
    status, lines = _check(_kms_env("http://127.0.0.1:1", SIGNET_KMS_KEY_ID=key_id, **clients))
    assert status == 1 and "SIGNET_KMS_ENDPOINT_URL" in lines["keys"], lines
    assert _kms_state(kms) == before


def test_an_empty_kms_ring_is_not_created(kms, moto_endpoint: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                          redis_url: str) -> None:
    before = _kms_state(kms)
    ring = f"check-{os.getpid()}-{tmp_path.name}"[:60]
    status, lines = _check(_kms_env(moto_endpoint, SIGNET_KMS_RING=ring, SIGNET_REDIS_URL=redis_url,
                                    SIGNET_REDIS_PREFIX=f"check-{os.getpid()}:",
                                    SIGNET_CLIENTS_FILE=str(tmp_path / "clients.yaml")))
    assert status == 0, lines
    assert lines["keys"].startswith(f"ok keys: KMS ring {ring!r}: no active ES256 key; serve creates one")
    assert _kms_state(kms) == before


def test_a_role_that_may_not_sign_fails_the_check(kms, moto_endpoint: str,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    """Fault injection (the proxy answers AccessDeniedException to Sign, as IAM would; moto
    grants everything): the check names the missing permission, and it asks with DryRun."""
    import httpx

    from tests.support.processes import start_fault_proxy

    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    service, proxy = start_fault_proxy(moto_endpoint)
    try:
        httpx.post(proxy + "/__fault__", json={"fault": "denied", "operations": ["Sign"]},
                   timeout=5).raise_for_status()
        status, lines = _check(_kms_env(proxy, SIGNET_KMS_KEY_ID=key_id,
                                        SIGNET_CLIENTS_FILE=str(tmp_path / "clients.yaml")))
        calls = httpx.get(proxy + "/__fault__", timeout=5).json()["calls"]
    finally:
        service.stop()
    assert status == 1
    assert lines["keys"] == (f"FAIL keys: KMS Sign (DryRun) on {key_id} refused: AccessDeniedException;"
                             " check the issuer's IAM and key policy (kms:Sign)")
    assert calls.get("DescribeKey") and calls.get("GetPublicKey") and calls["Sign"] == 1


async def test_a_managed_kms_ring_is_read_not_written(kms, moto_endpoint: str, moto_session,  # type: ignore[no-untyped-def]
                                                      redis_url: str, tmp_path: Path) -> None:
    import uuid

    from signet.algorithms import ALGORITHMS
    from signet.keys.kms_client import KmsClient
    from signet.keys.kms_ring import KmsRingBackend
    from signet.keys.ringlock import RedisRingLock
    from signet.redis_url import redis_from_url
    from tests.support.processes import MOTO_ISSUER_PRINCIPAL

    ring = f"check-{uuid.uuid4().hex[:12]}"
    backend = KmsRingBackend(
        ring, ALGORITHMS["ES256"], issuer_principal=MOTO_ISSUER_PRINCIPAL,
        client=KmsClient(endpoint_url=moto_endpoint, region="us-east-1", session=moto_session),
        lock=RedisRingLock(redis_from_url(redis_url, timeout=5), f"signet-test:{ring}:lock"))
    await backend.open()  # what the first issuer does: one active key, tagged and aliased
    kid = backend.signing_key().published.kid
    await backend.aclose()
    before = _kms_state(kms)
    status, lines = _check(_kms_env(moto_endpoint, SIGNET_KMS_RING=ring, SIGNET_REDIS_URL=redis_url,
                                    SIGNET_CLIENTS_FILE=str(tmp_path / "clients.yaml")))
    assert status == 0, lines
    assert lines["keys"] == (f"ok keys: KMS ring {ring!r}: 1 published key(s), active kid={kid}:"
                             " DescribeKey, GetPublicKey and Sign (DryRun) allowed")
    assert _kms_state(kms) == before
