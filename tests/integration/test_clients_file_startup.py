"""`signet serve` refuses to start on a clients file that holds a plaintext secret."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.test_issuer_http import _error_message, _start_failure


def test_issuer_refuses_to_start_on_a_bad_clients_file(tmp_path: Path) -> None:
    bad = tmp_path / "clients.yaml"
    bad.write_text("clients:\n  c:\n    secret_hash: plaintext\n    scopes: [a]\n    audiences: [b]\n")
    os.chmod(bad, 0o600)
    output = _start_failure({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), "SIGNET_CLIENTS_FILE": str(bad)})
    assert "argon2id hash" in _error_message(output, "SIGNET_CLIENTS_FILE") and "Traceback" not in output
