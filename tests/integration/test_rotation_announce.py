"""A key ring change reaches Signet verifiers at once: the issuer announces it on Redis
(signet.channels.ISSUER_KEYS_CHANGED) and verifiers refetch, long before their cache would
expire. Real issuer over HTTP, real Redis, the verifier in this process."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from signet.verifier import Verifier
from tests.support.processes import start_issuer


def test_rotation_is_announced_and_verifiers_refetch_at_once(tmp_path: Path, redis_url: str) -> None:
    service, issuer = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path), "SIGNET_REDIS_URL": redis_url,
                                    "SIGNET_ADMIN_TOKEN": "admin-token-for-tests-0123456789abcdef",
                                    "SIGNET_ROTATION_PERIOD": "0"})
    verifier = Verifier(issuer, "api://x", redis_url=redis_url, min_cache_seconds=600,
                        max_cache_seconds=3600, redis_prefix=f"signet:test:{uuid.uuid4().hex}:")
    try:
        verifier.start_sync()
        first = verifier.key_status(issuer)
        assert len(first.kids) == 1
        response = httpx.post(issuer + "/admin/keys/rotate",
                              headers={"Authorization": "Bearer admin-token-for-tests-0123456789abcdef"})
        assert response.status_code == 200
        new = {k["kid"] for k in response.json()["keys"]} - set(first.kids)
        deadline = time.monotonic() + 20
        while not new <= verifier.known_kids(issuer):
            assert time.monotonic() < deadline, "the verifier never learned the new key"
            time.sleep(0.05)
        assert verifier.stats.issuer_announcements >= 1
        assert verifier.key_status(issuer).fresh_until > time.time() + 60, "not a scheduled refresh"
    finally:
        verifier.close()
        service.stop()


def test_emergency_retire_is_refused_by_verifiers_within_one_refresh(tmp_path: Path,
                                                                   redis_url: str) -> None:
    """A key retired in an emergency (compromise) stops verifying: its unexpired tokens are
    refused as soon as the verifier refetches, which the issuer's announcement triggers."""
    from signet.verifier import UnknownKey
    from tests.support.tokens import add_client

    clients = str(tmp_path / "clients.yaml")
    secret = add_client({"SIGNET_CLIENTS_FILE": clients}, "svc", "--scope", "read",
                        "--audience", "api://x")
    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789abcdef"}
    service, issuer = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
                                    "SIGNET_CLIENTS_FILE": clients, "SIGNET_REDIS_URL": redis_url,
                                    "SIGNET_ADMIN_TOKEN": "admin-token-for-tests-0123456789abcdef",
                                    "SIGNET_ROTATION_PERIOD": "0"})
    verifier = Verifier(issuer, "api://x", redis_url=redis_url, min_cache_seconds=600,
                        max_cache_seconds=3600, redis_prefix=f"signet:test:{uuid.uuid4().hex}:")
    try:
        token = httpx.post(issuer + "/token", data={"grant_type": "client_credentials"},
                           auth=("svc", secret)).json()["access_token"]
        assert verifier.verify_sync(token).subject == "svc"
        compromised = httpx.get(issuer + "/readyz").json()["kid"]
        retired = httpx.post(issuer + f"/admin/keys/{compromised}/retire", headers=admin)
        assert retired.status_code == 200
        deadline = time.monotonic() + 20
        while compromised in verifier.known_kids(issuer):
            assert time.monotonic() < deadline, "the verifier kept trusting the retired key"
            time.sleep(0.05)
        try:
            verifier.verify_sync(token)
            raise AssertionError("a token of the retired key still verified")
        except UnknownKey:
            pass
        fresh = httpx.post(issuer + "/token", data={"grant_type": "client_credentials"},
                           auth=("svc", secret)).json()["access_token"]
        assert verifier.verify_sync(fresh).subject == "svc", "the replacement key signs at once"
    finally:
        verifier.close()
        service.stop()
