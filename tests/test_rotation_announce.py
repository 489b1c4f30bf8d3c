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
                                    "SIGNET_ADMIN_TOKEN": "admin-token-for-tests",
                                    "SIGNET_ROTATION_PERIOD": "0"})
    verifier = Verifier(issuer, "api://x", redis_url=redis_url, min_cache_seconds=600,
                        max_cache_seconds=3600, redis_prefix=f"signet:test:{uuid.uuid4().hex}:")
    try:
        verifier.start_sync()
        first = verifier.key_status(issuer)
        assert len(first.kids) == 1
        response = httpx.post(issuer + "/admin/keys/rotate",
                              headers={"Authorization": "Bearer admin-token-for-tests"})
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
