"""`signet serve` refuses to start on a clients file that holds a plaintext secret."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.test_issuer_http import _start_failure
from tests.support.processes import json_error_message


def test_issuer_refuses_to_start_on_a_bad_clients_file(tmp_path: Path) -> None:
    bad = tmp_path / "clients.yaml"
    bad.write_text("clients:\n  c:\n    secret_hash: plaintext\n    scopes: [a]\n    audiences: [b]\n")
    os.chmod(bad, 0o600)
    output = _start_failure({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), "SIGNET_CLIENTS_FILE": str(bad)})
    assert "argon2id hash" in json_error_message(output, "SIGNET_CLIENTS_FILE") and "Traceback" not in output


def test_issuer_refuses_to_start_when_it_would_trust_its_own_tokens_as_assertions(tmp_path: Path) -> None:
    """Signet's own issuer as a federation issuer: its access tokens would authenticate clients."""
    federation = tmp_path / "federation.toml"
    federation.write_text('[[issuer]]\nissuer = "http://127.0.0.1:1"\nprofile = "kubernetes"\n')
    output = _start_failure({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
                             "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
                             "SIGNET_ISSUER": "http://127.0.0.1:1",
                             "SIGNET_FEDERATION_ISSUERS_FILE": str(federation)})
    assert "own issuer" in json_error_message(output, "SIGNET_FEDERATION_ISSUERS_FILE")
    assert "Traceback" not in output
