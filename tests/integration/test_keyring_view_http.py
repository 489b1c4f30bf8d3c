"""One key-ring view over HTTP and the CLI: after `signet keys rotate` on a running issuer
with a 30-day period, `signet keys list --json`, `/admin/keys` and `/keyring.json` all give
the pending key's activation as the active key's hand-off (not the period's end), in
RFC 3339 with null for what is not so; retiring a retired key is refused everywhere.
Every admin call is one audit line naming who (a fingerprint) and from where."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import start_issuer
from tests.support.tokens import run_cli
from tests.support.waiting import eventually

TOKEN = "admin-secret-for-tests-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
TIMES = ("created_at", "activated_at", "retiring_at", "activates_at", "successor_activates_at",
         "unpublish_at")


def _machine_readable(keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for key in keys:
        for name in TIMES:
            assert key[name] is None or RFC3339.fullmatch(key[name]), (name, key)
        assert key["next"] is None or RFC3339.fullmatch(key["next"]["at"]), key
        assert "-" not in key.values()
    return {k["kid"]: k for k in keys}


def _audit(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in output.splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("event") == "admin_action"]


def test_every_view_tells_the_real_hand_off_after_a_manual_rotation(tmp_path: Path) -> None:
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), "SIGNET_ROTATION_PERIOD": "30d",
           "SIGNET_KEY_RING_RELOAD_SECONDS": "0.2", "SIGNET_ADMIN_TOKEN": TOKEN}
    service, base = start_issuer(env)
    try:
        (old,) = [k["kid"] for k in httpx.get(base + "/keyring.json").json()["keys"]]
        new = run_cli(env, "keys", "rotate").stdout.split()[1]
        assert eventually(lambda: len(httpx.get(base + "/keyring.json").json()["keys"]) == 2, 20, 0.05)
        views = {
            "cli": run_cli(env, "keys", "list", "--json").stdout,
            "admin": httpx.get(base + "/admin/keys", headers=AUTH).text,
            "page": httpx.get(base + "/keyring.json").text,
        }
        for name, text in views.items():
            document = json.loads(text)
            by_kid = _machine_readable(document if name == "cli" else document["keys"])
            handoff = by_kid[new]["activates_at"]
            assert by_kid[new]["next"] == {"event": "activates", "at": handoff}, name
            assert by_kid[old]["successor_activates_at"] == handoff, name
            assert by_kid[old]["next"] == {"event": "successor_activates", "at": handoff}, name
        assert json.loads(views["cli"])[0]["created"] == json.loads(views["cli"])[0]["created_at"]

        assert run_cli(env, "keys", "retire", new, "--yes").returncode == 0
        again = run_cli(env, "keys", "retire", new, "--yes", check=False)
        assert again.returncode == 1
        retired_at = json.loads(run_cli(env, "keys", "list", "--json").stdout)[1]["retired_at"]
        assert again.stderr.strip() == (f"signet: error: key {new} is already retired (since"
                                        f" {retired_at}); nothing changed")
        refused = httpx.post(base + f"/admin/keys/{new}/retire",
                             headers={**AUTH, "X-Request-ID": "retire-twice-1"})
        assert refused.status_code == 409
        assert set(refused.json()) == {"error", "error_description"}  # the flat error body
        assert refused.json()["error"] == "conflict"
        assert f"key {new} is already retired" in refused.json()["error_description"]
        httpx.post(base + "/admin/keys/rotate", headers={"Authorization": "Bearer wrong"})
        assert eventually(lambda: len(_audit(service.output())) == 3, 10, 0.05)
        output = service.output()
    finally:
        service.stop()
    lines = _audit(output)
    fingerprint = hashlib.sha256(TOKEN.encode()).hexdigest()[:12]
    assert [(x["action"], x["outcome"]) for x in lines] == [
        ("list_keys", "ok"), ("retire", "refused"), ("rotate", "unauthenticated")]
    listed, twice, stranger = lines
    assert listed["credential"] == twice["credential"] == fingerprint
    assert stranger["credential"] is None
    assert twice["request_id"] == "retire-twice-1" and twice["kid"] == new
    assert all(x["source"] == "127.0.0.1" for x in lines)
    assert TOKEN not in output
