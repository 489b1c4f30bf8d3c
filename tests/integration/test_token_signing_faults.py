"""/token when the signing key is gone (fault injection: a backend switched off on demand):
503 temporarily_unavailable with Retry-After and an unready /readyz, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.main import create_app
from app.settings import load_settings
from signet.algorithms import ALGORITHMS
from signet.keys.base import KeyUnavailableError
from signet.keys.local import LocalKeyBackend
from tests.support.processes import ThreadServer
from tests.support.tokens import add_client


class SwitchableBackend(LocalKeyBackend):
    """A real local backend whose signing key can be made unreachable (fault injection)."""

    broken = False

    def signing_key(self):  # type: ignore[no-untyped-def]
        if self.broken:
            raise KeyUnavailableError("injected: no signing key")
        return super().signing_key()


def test_token_answers_503_while_no_key_can_sign(tmp_path: Path) -> None:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    secret = add_client(env, "svc", "--scope", "read", "--audience", "api://x")
    backend = SwitchableBackend(tmp_path / "keys", ALGORITHMS["ES256"])
    settings = load_settings(clients_file=tmp_path / "clients.yaml", local_key_dir=tmp_path / "keys")
    with ThreadServer(create_app(settings, backend)) as base:
        form = {"grant_type": "client_credentials"}
        assert httpx.post(base + "/token", data=form, auth=("svc", secret)).status_code == 200
        backend.broken = True
        refused = httpx.post(base + "/token", data=form, auth=("svc", secret))
        assert refused.status_code == 503
        assert refused.json()["error"] == "temporarily_unavailable"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["cache-control"] == "no-store"
        assert httpx.get(base + "/readyz").status_code == 503
        backend.broken = False
        assert httpx.post(base + "/token", data=form, auth=("svc", secret)).status_code == 200
