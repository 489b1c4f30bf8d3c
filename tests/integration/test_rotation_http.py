"""Rotation seen from outside: the running issuer re-publishes its JWKS as the ring changes,
whether the change comes from its own schedule, the `signet keys` CLI or the admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.processes import start_issuer
from tests.support.waiting import eventually

FAST = {  # publish lead = max(1, 1) + 0.2 = 1.2 s; retire after = 1 + 1 + 0.2 = 2.2 s
    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "1", "SIGNET_JWKS_MAX_AGE": "1",
    "SIGNET_KEY_RING_RELOAD_SECONDS": "0.2", "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": "1",
    "SIGNET_TOKEN_LIFETIME_SECONDS": "1",
    "SIGNET_VERIFIER_LEEWAY": "1",
}
LEAD, RETIRE_AFTER = 1.2, 2.2


def _kids(base: str) -> list[str]:
    return [k["kid"] for k in httpx.get(base + "/.well-known/jwks.json").json()["keys"]]


def _signing(base: str) -> str:
    return str(httpx.get(base + "/readyz").json()["kid"])


def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    assert eventually(predicate, timeout, interval=0.05), "condition not reached"


def _cli(key_dir: Path, *args: str, timing: dict[str, str] = FAST) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SIGNET_LOCAL_KEY_DIR": str(key_dir), **timing}
    return subprocess.run([sys.executable, "-m", "app", "keys", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=60)


def test_cli_rotation_and_retire_reach_the_running_issuer(tmp_path: Path) -> None:
    # Long token lifetime: the old key must stay published until the test retires it,
    # however slowly this machine runs the CLI. A 10 s publish lead: the key is still
    # pending when the next CLI process (a second or more on a loaded machine) lists it.
    slow = {**FAST, "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": "600", "SIGNET_JWKS_MAX_AGE": "10",
            "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "10"}
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path),
                                  "SIGNET_ROTATION_PERIOD": "0", **slow})
    try:
        old = _signing(base)
        assert _kids(base) == [old]
        rotated = _cli(tmp_path, "rotate", timing=slow)
        assert rotated.returncode == 0, rotated.stderr
        new = rotated.stdout.split()[1]
        _until(lambda: _kids(base) == [old, new])  # published by the running issuer...
        listed = _cli(tmp_path, "list", "--json", timing=slow).stdout
        states = {r["kid"]: r["state"] for r in json.loads(listed)}
        assert states == {old: "active", new: "pending"}
        _until(lambda: _signing(base) == new)  # ...and signing only after the lead
        assert old in _kids(base), "the previous key stays published while its tokens live"

        refused = _cli(tmp_path, "retire", old, timing=slow)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        assert old in _kids(base)
        assert _cli(tmp_path, "retire", old, "--yes", timing=slow).returncode == 0
        _until(lambda: _kids(base) == [new])
        table = _cli(tmp_path, "list", timing=slow).stdout.splitlines()
        assert table[0].split()[:3] == ["KID", "ALG", "STATE"]
        assert any(line.startswith(old) and " retired " in line for line in table)
    finally:
        service.stop()


def test_scheduled_rotation_keeps_the_timing_rules(tmp_path: Path) -> None:
    """Three automatic rotations; the issuer's own records prove publish-before-sign and
    keep-until-expired, whatever the load on this machine."""
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path),
                                  "SIGNET_ROTATION_PERIOD": "2", **FAST})
    try:
        first = _signing(base)
        seen_signing = [first]

        def rotated_three_times() -> bool:
            kid = _signing(base)
            if kid != seen_signing[-1]:
                seen_signing.append(kid)
            return len(seen_signing) >= 4

        _until(rotated_three_times, timeout=60)
        ring = json.loads((tmp_path / "keyring.json").read_text())["keys"]
        by_kid = {k["kid"]: k for k in ring}
        for kid in seen_signing[1:]:
            key = by_kid[kid]
            assert key["activated_at"] - key["created_at"] >= LEAD, key
        for key in ring:
            if key["retired_at"] is not None:
                assert key["retired_at"] - key["retiring_at"] >= RETIRE_AFTER, key
        _until(lambda: first not in _kids(base), timeout=30)
        assert by_kid[first]["state"] in ("retiring", "retired")
    finally:
        service.stop()


@pytest.fixture(scope="module")
def admin_issuer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path_factory.mktemp("k")),
                                  "SIGNET_ADMIN_TOKEN": "admin-secret-for-tests-0123456789abcdef",
                                  "SIGNET_ROTATION_PERIOD": "0", **FAST})
    yield base
    service.stop()


def test_admin_api_is_off_without_a_token(tmp_path: Path) -> None:
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path)})
    try:
        response = httpx.get(base + "/admin/keys", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    finally:
        service.stop()


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_admin_token_leaves_the_admin_api_off(tmp_path: Path, value: str) -> None:
    """`SIGNET_ADMIN_TOKEN=` (as templating leaves it) is unset, not an empty credential:
    `Authorization: Bearer` with nothing after it must not rotate keys."""
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(tmp_path), "SIGNET_ADMIN_TOKEN": value})
    try:
        for header in ("Bearer", "Bearer  x"):
            listed = httpx.get(base + "/admin/keys", headers={"Authorization": header})
            rotated = httpx.post(base + "/admin/keys/rotate", headers={"Authorization": header})
            assert (listed.status_code, rotated.status_code) == (404, 404), header
        jwks = httpx.get(base + "/.well-known/jwks.json").json()
        assert len(jwks["keys"]) == 1  # nothing was rotated
    finally:
        service.stop()


def test_a_short_admin_token_refuses_start_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "check"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "SIGNET_LOCAL_KEY_DIR": str(tmp_path), "SIGNET_ADMIN_TOKEN": "x" * 31,
             "SIGNET_ISSUER": "http://127.0.0.1:1"})
    assert result.returncode != 0
    assert "SIGNET_ADMIN_TOKEN: must be at least 32 characters" in result.stderr + result.stdout
    assert "x" * 31 not in result.stderr + result.stdout  # the secret itself is never printed


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic YWRtaW4=", "Bearer",
                                    "Bearer admin-secret-for-tests-0123456789abcdef-and-more"])
def test_admin_api_refuses_bad_credentials(admin_issuer: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.post(admin_issuer + "/admin/keys/rotate", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer realm=")


def test_admin_api_rotates_and_retires(admin_issuer: str) -> None:
    auth = {"Authorization": "Bearer admin-secret-for-tests-0123456789abcdef"}
    ring = httpx.get(admin_issuer + "/admin/keys", headers=auth).json()["keys"]
    assert [k["state"] for k in ring] == ["active"]
    old = ring[0]["kid"]
    ring = httpx.post(admin_issuer + "/admin/keys/rotate", headers=auth).json()["keys"]
    assert [k["state"] for k in ring] == ["active", "pending"]
    new = ring[1]["kid"]
    assert _kids(admin_issuer) == [old, new]
    _until(lambda: _signing(admin_issuer) == new)
    missing = httpx.post(admin_issuer + "/admin/keys/nope/retire", headers=auth)
    assert missing.status_code == 404
    retired = httpx.post(admin_issuer + f"/admin/keys/{old}/retire", headers=auth)
    assert retired.status_code == 200
    assert {k["kid"]: k["state"] for k in retired.json()["keys"]}[old] == "retired"
    assert _kids(admin_issuer) == [new]
    assert retired.headers["cache-control"] == "no-store"


def test_cli_takes_a_kid_that_begins_with_a_dash(tmp_path: Path) -> None:
    """A kid is base64url: one in 64 begins with `-`, which argparse would read as an option
    (CI met one). The CLI must still see it as the kid, with --yes before or after it."""
    for args in (("retire", "-2s9PWuK2x", "--yes"), ("retire", "--yes", "-2s9PWuK2x")):
        done = _cli(tmp_path, *args)
        assert done.returncode == 1  # an unknown kid: refused, not a configuration error
        assert done.stderr.startswith("signet: error: no key '-2s9PWuK2x' in the ring"), done.stderr
    unconfirmed = _cli(tmp_path, "retire", "-2s9PWuK2x")
    assert "retiring -2s9PWuK2x unpublishes it" in unconfirmed.stderr, unconfirmed.stderr


def test_rotation_never_stacks_pending_keys(tmp_path: Path) -> None:
    """100 rotations once published 105 keys and every Signet verifier refused the JWKS. Now
    a second rotation answers 409 naming the pending key; a forced one replaces it; the
    published set stays small; the CLI refuses the same way."""
    token = "admin-secret-for-tests-0123456789abcdef"
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp_path), "SIGNET_ADMIN_TOKEN": token}
    service, base = start_issuer(env)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        first = httpx.post(base + "/admin/keys/rotate", headers=auth)
        assert first.status_code == 200, first.text
        pending = first.json()["rotated"]["kid"]
        assert {k["kid"]: k["state"] for k in first.json()["keys"]}[pending] == "pending"
        again = httpx.post(base + "/admin/keys/rotate", headers=auth)
        assert again.status_code == 409, again.text
        assert again.json()["error"] == "conflict"
        assert pending in again.json()["error_description"]
        assert "signs from" in again.json()["error_description"]
        for _ in range(30):
            forced = httpx.post(base + "/admin/keys/rotate", params={"force": "true"}, headers=auth)
            assert forced.status_code == 200, forced.text
        states = [k["state"] for k in forced.json()["keys"]]
        assert states.count("pending") == 1 and states.count("active") == 1
        assert forced.json()["rotated"]["kid"] != pending
        assert len(httpx.get(base + "/.well-known/jwks.json").json()["keys"]) == 2
        cli = subprocess.run([sys.executable, "-m", "app", "keys", "rotate"], capture_output=True,
                             text=True, timeout=60, env={**os.environ, **env})
        assert cli.returncode == 1, cli.stderr
        assert "already pending" in cli.stderr
    finally:
        service.stop()
