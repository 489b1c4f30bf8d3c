"""The one key-ring view (CLI --json, /admin/keys, /keyring.json) at each instant of a
rotation, on the real local backend with an injected clock: every planned time is when
the rotator really acts, times are RFC 3339 and missing values null."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.keys.ring_view import next_words, operator_view, rfc3339, ring_view
from signet.algorithms import ALGORITHMS
from signet.keyring import RotationPolicy
from signet.keys.local import LocalKeyBackend
from signet.rotation import KeyAlreadyRetired, Rotator
from tests.support.clock import Clock

HOUR, DAY = 3600.0, 86400.0
START = 1_800_000_000.0
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
TIME_FIELDS = ("created_at", "activated_at", "retiring_at", "retired_at", "activates_at",
               "successor_activates_at", "unpublish_at")


async def _rotator(tmp_path: Path, clock: Clock, policy: RotationPolicy) -> Rotator:
    backend = LocalKeyBackend(tmp_path, ALGORITHMS["ES256"], clock=clock)
    await backend.open()
    return Rotator(backend, "ES256", policy, clock=clock)


def _view(rotator: Rotator) -> dict[str, dict[str, Any]]:
    views = ring_view(rotator.backend.snapshot.records, rotator.policy, rotator.clock())
    for view in views:  # machine-readable: RFC 3339 or null, `next` an object or null
        for name in TIME_FIELDS:
            assert view[name] is None or RFC3339.fullmatch(view[name]), (name, view)
        assert view["next"] is None or (set(view["next"]) == {"event", "at"}
                                        and RFC3339.fullmatch(view["next"]["at"]))
    return {v["kid"]: v for v in views}


@pytest.mark.parametrize("period", [30 * DAY, None], ids=["scheduled", "manual"])
async def test_a_manual_rotation_moves_the_active_keys_hand_off(tmp_path: Path,
                                                                period: float | None) -> None:
    policy = RotationPolicy(publish_lead=HOUR, retire_after=2 * HOUR, rotation_period=period)
    clock = Clock(START)
    rotator = await _rotator(tmp_path, clock, policy)
    (old,) = _view(rotator)
    before = _view(rotator)[old]
    assert before["state"] == "active" and before["activates_at"] is None
    if period is None:
        assert before["next"] is None and before["successor_activates_at"] is None
    else:
        assert before["successor_activates_at"] == rfc3339(START + period)

    clock.now += DAY  # day one: an operator rotates by hand
    new = (await rotator.rotate_now()).kid
    view = _view(rotator)
    handoff = rfc3339(START + DAY + HOUR)
    assert view[new]["state"] == "pending" and view[new]["activates_at"] == handoff
    assert view[new]["next"] == {"event": "activates", "at": handoff}
    # The truth, not the schedule: the old key's successor signs when the pending key does.
    assert view[old]["successor_activates_at"] == handoff
    assert view[old]["next"] == {"event": "successor_activates", "at": handoff}
    assert view[old]["unpublish_at"] == rfc3339(START + DAY + 3 * HOUR)
    assert next_words(view[old]) == f"successor signs from {handoff}"

    clock.now += HOUR - 1  # one second before the hand-off nothing moves
    assert await rotator.converge() == []
    clock.now += 1  # the hand-off happens exactly when announced
    await rotator.converge()
    view = _view(rotator)
    assert view[new]["state"] == "active" and view[new]["activated_at"] == handoff
    assert view[old]["state"] == "retiring" and view[old]["retiring_at"] == handoff
    assert view[old]["next"] == {"event": "unpublished", "at": rfc3339(START + DAY + 3 * HOUR)}
    expected_successor = None if period is None else rfc3339(START + DAY + HOUR + period)
    assert view[new]["successor_activates_at"] == expected_successor

    clock.now += 2 * HOUR  # the old key's tokens have all expired
    await rotator.converge()
    view = _view(rotator)
    assert view[old]["state"] == "retired" and view[old]["next"] is None
    assert view[old]["retired_at"] == rfc3339(START + DAY + 3 * HOUR)
    assert old not in {v["kid"] for v in ring_view(rotator.backend.snapshot.records, policy,
                                                   clock.now, published_only=True)}


async def test_an_overdue_rotation_is_announced_from_now(tmp_path: Path) -> None:
    """An issuer that was down past the period: the successor is made on the next pass and
    signs one publish lead later, not at the period's end, which is past."""
    policy = RotationPolicy(publish_lead=HOUR, retire_after=HOUR, rotation_period=DAY)
    clock = Clock(START)
    rotator = await _rotator(tmp_path, clock, policy)
    (old,) = _view(rotator)
    clock.now += 3 * DAY
    assert _view(rotator)[old]["successor_activates_at"] == rfc3339(clock.now + HOUR)


async def test_retiring_a_retired_key_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    clock = Clock(START)
    rotator = await _rotator(tmp_path, clock, RotationPolicy(HOUR, HOUR))
    new = (await rotator.rotate_now()).kid
    await rotator.retire(new)
    version = rotator.backend.snapshot.version
    clock.now += 60
    with pytest.raises(KeyAlreadyRetired, match=f"key {new} is already retired"):
        await rotator.retire(new)
    assert (await rotator.backend.read_ring()).version == version


async def test_the_operator_view_keeps_its_old_names_with_rfc3339_values(tmp_path: Path) -> None:
    rotator = await _rotator(tmp_path, Clock(START), RotationPolicy(HOUR, HOUR))
    (view,) = operator_view(rotator.backend.snapshot.records, rotator.policy, START)
    assert view["created"] == view["created_at"] == rfc3339(START)
    assert view["activated"] == rfc3339(START) and view["next"] is None
    assert "-" not in {v for v in view.values() if isinstance(v, str) and len(v) == 1}
