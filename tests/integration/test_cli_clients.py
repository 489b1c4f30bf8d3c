"""`signet clients update|show` against a running issuer (uvicorn): the secret survives an
update, `show` never prints it, and every change the issuer picks up is one audit line
naming the client, what changed (old and new) and the old and new file SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import RunningIssuer
from tests.support.tokens import add_client, post_token, run_cli
from tests.support.waiting import eventually

API = "api://orders"
CC = {"grant_type": "client_credentials"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _changes(issuer: RunningIssuer) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in issuer.service.output().splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("message") == "client registry change"]


def _seen(issuer: RunningIssuer, count: int) -> list[dict[str, Any]]:
    """Token requests make the issuer look at the file (at most once a second) until it has
    logged `count` changes."""
    def logged() -> bool:
        post_token(issuer.base, CC, auth=("svc", issuer.secrets["svc"]))
        return len(_changes(issuer)) >= count
    assert eventually(logged, 20, 0.2), issuer.service.output()[-2000:]
    return _changes(issuer)


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> RunningIssuer:
    return make_issuer({"SIGNET_TOKEN_LIFETIME_SECONDS": "300"},
                       clients={"svc": ("--scope", "read", "--audience", API)})


def test_update_keeps_the_secret_and_the_issuer_logs_what_changed(issuer: RunningIssuer) -> None:
    clients_file = Path(issuer.env["SIGNET_CLIENTS_FILE"])
    secret_hash_before = clients_file.read_text().split("secret_hash: ")[1].split()[0]
    old_sha = _sha256(clients_file)
    done = run_cli(issuer.env, "clients", "update", "svc", "--scope", "read", "--scope", "write",
                   "--lifetime", "120", "--json")
    assert json.loads(done.stdout) == {"client_id": "svc", "changed": {
        "scopes": {"old": ["read"], "new": ["read", "write"]},
        "default_scopes": {"old": ["read"], "new": ["read", "write"]},
        "token_lifetime_seconds": {"old": None, "new": 120}}}
    assert secret_hash_before in clients_file.read_text()  # the same hash: the secret is kept
    new_sha = _sha256(clients_file)

    (change,) = _seen(issuer, 1)
    assert change["event"] == "client_updated" and change["client_id"] == "svc"
    assert change["changed"] == {"scopes": {"old": ["read"], "new": ["read", "write"]},
                                 "default_scopes": {"old": ["read"], "new": ["read", "write"]},
                                 "token_lifetime_seconds": {"old": None, "new": 120}}
    assert (change["old_sha256"], change["new_sha256"]) == (old_sha, new_sha)
    granted = post_token(issuer.base, {**CC, "scope": "write"}, auth=("svc", issuer.secrets["svc"]))
    assert granted.status_code == 200 and granted.json()["expires_in"] == 120

    shown = json.loads(run_cli(issuer.env, "clients", "show", "svc", "--json").stdout)
    assert shown["scopes"] == ["read", "write"] and shown["token_lifetime_seconds"] == 120
    text = run_cli(issuer.env, "clients", "show", "svc").stdout
    for output in (json.dumps(shown), text):
        assert "argon2" not in output and "secret_hash" not in output
        assert issuer.secrets["svc"] not in output

    run_cli(issuer.env, "clients", "update", "svc", "--disable")
    disabled = _seen(issuer, 2)[-1]
    assert disabled["changed"] == {"enabled": {"old": True, "new": False}}
    assert disabled["old_sha256"] == new_sha
    refused = post_token(issuer.base, CC, auth=("svc", issuer.secrets["svc"]))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    run_cli(issuer.env, "clients", "update", "svc", "--enable")
    assert _seen(issuer, 3)[-1]["changed"] == {"enabled": {"old": False, "new": True}}


def test_added_removed_and_new_secrets_are_logged_without_the_secret(issuer: RunningIssuer) -> None:
    before = len(_changes(issuer))
    secret = add_client(issuer.env, "batch", "--scope", "read", "--audience", API) or ""
    added = _seen(issuer, before + 1)[-1]
    assert added["event"] == "client_added" and added["client_id"] == "batch"
    assert added["changed"]["scopes"] == ["read"]
    new_secret = json.loads(run_cli(issuer.env, "clients", "rotate-secret", "batch", "--json").stdout)
    rotated = _seen(issuer, before + 2)[-1]
    assert rotated["event"] == "client_updated" and rotated["changed"] == {"secret": "changed"}
    run_cli(issuer.env, "clients", "remove", "batch")
    assert _seen(issuer, before + 3)[-1]["event"] == "client_removed"
    output = issuer.service.output()
    assert secret not in output and new_secret["client_secret"] not in output
    assert "$argon2id$" not in output


@pytest.mark.parametrize(("args", "status", "message"), [
    (["update", "ghost", "--scope", "read"], 1, "signet: error: no client 'ghost'"),
    (["update", "svc"], 2, "signet: error: nothing to update"),
    (["update", "svc", "--scope", "bad scope"], 2,
     "signet: error: client 'svc': scopes has an invalid entry"),
    (["update", "svc", "--default-scope", "admin"], 2,
     "signet: error: client 'svc': default_scopes must be among its scopes"),
    (["update", "svc", "--lifetime", "999999"], 2, "signet: error: --lifetime 999999 exceeds"),
    (["show", "ghost"], 1, "signet: error: no client 'ghost'"),
])
def test_refused_updates_change_nothing(issuer: RunningIssuer, args: list[str], status: int,
                                        message: str) -> None:
    clients_file = Path(issuer.env["SIGNET_CLIENTS_FILE"])
    before = clients_file.read_bytes()
    done = run_cli(issuer.env, "clients", *args, check=False)
    assert done.returncode == status
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert clients_file.read_bytes() == before
