"""Verify before handing out: when the key backend returns a signature that does not verify
with the published key (fault injection: a real local backend whose signatures get one bit
flipped on demand), /token answers 503 and no token leaves the issuer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.main import create_app
from app.settings import load_settings
from signet.algorithms import ALGORITHMS
from signet.keys.local import LocalKeyBackend
from tests.support.processes import ThreadServer
from tests.support.tokens import add_client


class _CorruptingKey:
    def __init__(self, key: Any) -> None:
        self._key = key
        self.published = key.published

    async def sign(self, data: bytes) -> bytes:
        signature: bytes = await self._key.sign(data)
        return bytes([signature[0] ^ 1]) + signature[1:]


class CorruptingBackend(LocalKeyBackend):
    """A real local backend whose signatures are corrupted while `corrupt` is set."""

    corrupt = False

    def signing_key(self):  # type: ignore[no-untyped-def]
        key = super().signing_key()
        return _CorruptingKey(key) if self.corrupt else key


def test_a_signature_failing_its_self_check_is_never_issued(tmp_path: Path) -> None:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    secret = add_client(env, "svc", "--scope", "read", "--audience", "api://x") or ""
    backend = CorruptingBackend(tmp_path / "keys", ALGORITHMS["ES256"])
    settings = load_settings(clients_file=tmp_path / "clients.yaml", local_key_dir=tmp_path / "keys")
    form = {"grant_type": "client_credentials"}
    with ThreadServer(create_app(settings, backend)) as base:
        assert httpx.post(base + "/token", data=form, auth=("svc", secret)).status_code == 200
        backend.corrupt = True
        refused = httpx.post(base + "/token", data=form, auth=("svc", secret))
        assert refused.status_code == 503, refused.text
        assert set(refused.json()) == {"error", "error_description"}
        assert "access_token" not in refused.text
        backend.corrupt = False
        assert httpx.post(base + "/token", data=form, auth=("svc", secret)).status_code == 200
