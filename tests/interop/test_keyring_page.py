"""GET /keyring.json and the /keyring page through a rotation done with `signet keys rotate`:
the new key shows up as pending with its planned activation, then (issuer restarted with a
short publish lead) as active beside the retiring old key, and a retired key disappears.
Only published keys are listed, and never a key's file name."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.interop.browser import chromium_page, screenshot
from tests.support.processes import start_issuer
from tests.support.tokens import run_cli

# A 30-day period (no scheduled rotation within the test: only the CLI's); the running issuer
# re-reads the ring every 0.2 s. With the default cache ages a new key waits about ten
# minutes before it signs: pending for the whole test, a sliver beside 30-day lifetimes.
RING = {"SIGNET_ROTATION_PERIOD": "30d", "SIGNET_KEY_RING_RELOAD_SECONDS": "0.2"}
# After a restart with these, the pending key activates at once and the old one retires
# for an hour (the longest token lifetime), so each state holds while the page is checked.
SHORT_LEAD = {"SIGNET_VERIFIER_MAX_CACHE_SECONDS": "1", "SIGNET_JWKS_MAX_AGE": "1"}
KEY_FIELDS = {"kid", "alg", "state", "created_at", "activated_at", "retiring_at", "retired_at",
              "activates_at", "unpublish_at", "successor_activates_at", "next"}


def _until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        assert time.monotonic() < deadline, f"not reached: {value}"
        time.sleep(0.05)
    return value


def _ring(base: str) -> dict[str, Any]:
    response = httpx.get(base + "/keyring.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "access-control-allow-origin" not in response.headers
    return response.json()  # type: ignore[no-any-return]


def _width(bar: Any) -> float:
    """A timeline bar's width, in percent of its track."""
    return float(str(bar.get_attribute("style")).split("width:")[1].split("%")[0])


def _states(ring: dict[str, Any]) -> dict[str, str]:
    return {k["kid"]: k["state"] for k in ring["keys"]}


def _show(page: Page, base: str) -> dict[str, str]:
    """Open /keyring and return kid -> state as the table shows it."""
    page.goto(base + "/keyring")
    page.wait_for_selector("#status[data-loaded='true']")  # no wait_for_function: CSP forbids eval
    rows = page.query_selector_all("#keys tbody tr")
    return {str(r.get_attribute("data-kid")): str(r.get_attribute("data-state")) for r in rows}


@pytest.fixture(scope="module")
def browser_and_errors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, list[str]]]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


def test_a_cli_rotation_shows_on_the_keyring_page(browser_and_errors: tuple[Page, list[str]],
                                                   tmp_path: Path) -> None:
    browser, errors = browser_and_errors
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), **RING}
    service, base = start_issuer(env)
    try:
        first = _ring(base)
        (old,) = _states(first)
        assert first["rotation"]["rotation_period_seconds"] == 30 * 86400
        assert _show(browser, base) == {old: "active"}

        rotated = run_cli(env, "keys", "rotate").stdout
        new = rotated.split()[1]
        ring = _until(lambda: _ring(base), lambda r: new in _states(r))
        assert _states(ring) == {old: "active", new: "pending"}
        pending = next(k for k in ring["keys"] if k["kid"] == new)
        assert set(pending) == KEY_FIELDS
        assert pending["activates_at"] is not None and pending["activated_at"] is None
        active = next(k for k in ring["keys"] if k["kid"] == old)
        assert active["successor_activates_at"] == pending["activates_at"]  # the real hand-off
        assert _show(browser, base) == {old: "active", new: "pending"}
        # The pending span (the publish lead) is drawn in the zoomed band, beside the full span.
        zoomed = browser.query_selector(
            f".band[data-band='zoom'] .row[data-kid='{new}'] .bar.pending.planned")
        assert zoomed is not None and _width(zoomed) > 0.1  # an hour's lead in four days: ~1 %
        full = browser.query_selector(
            f".band[data-band='full'] .row[data-kid='{old}'] .bar.retiring.planned")
        assert full is not None, "the old key retires at the pending key's activation"
        next_step = browser.inner_text(f"#keys tr[data-kid='{new}'] td.next")
        assert next_step.startswith(f"signs from {pending['activates_at']} (in ")
        assert browser.query_selector(f".row[data-kid='{new}'] .bar.pending.planned") is not None
        screenshot(browser, "keyring-pending")
    finally:
        service.stop()

    service, base = start_issuer({**env, **SHORT_LEAD})
    try:
        ring = _until(lambda: _ring(base), lambda r: _states(r).get(new) == "active")
        assert _states(ring) == {old: "retiring", new: "active"}
        retiring = next(k for k in ring["keys"] if k["kid"] == old)
        assert retiring["retiring_at"] == next(k for k in ring["keys"] if k["kid"] == new)["activated_at"]
        assert retiring["unpublish_at"] is not None
        assert _show(browser, base) == {old: "retiring", new: "active"}
        assert browser.query_selector(f".row[data-kid='{old}'] .bar.retiring.planned") is not None
        screenshot(browser, "keyring-rotated")

        run_cli(env, "keys", "retire", old, "--yes")
        _until(lambda: _ring(base), lambda r: _states(r) == {new: "active"})
        recorded = {r["kid"]: r["state"] for r in json.loads(run_cli(env, "keys", "list", "--json").stdout)}
        assert recorded == {old: "retired", new: "active"}  # in the ring, not on the page
        assert _show(browser, base) == {new: "active"}
        body = httpx.get(base + "/keyring.json").text
        assert ".pem" not in body and "ref" not in json.loads(body)["keys"][0]
        assert errors == []  # a CSP violation, or a missing favicon, would show here
    finally:
        service.stop()
