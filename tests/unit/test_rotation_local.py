"""Rotation on the local backend: keyring.json, crash repair, replicas sharing a directory.
The clock is injected; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from signet.algorithms import ALGORITHMS
from signet.keyring import Activate, CreatePending, RotationPolicy, Unpublish
from signet.keys.base import KeyUnavailableError
from signet.keys.local import CREATING_SUFFIX, LocalKeyBackend
from signet.rotation import Rotator
from tests.support.clock import Clock

POLICY = RotationPolicy(publish_lead=60, retire_after=120, rotation_period=600)


async def _replica(key_dir: Path, clock: Clock) -> tuple[LocalKeyBackend, Rotator]:
    backend = LocalKeyBackend(key_dir, ALGORITHMS["ES256"], clock=clock)
    await backend.open()
    return backend, Rotator(backend, "ES256", POLICY, clock=clock)


def _states(key_dir: Path) -> list[str]:
    return [k["state"] for k in json.loads((key_dir / "keyring.json").read_text())["keys"]]


async def test_full_rotation_cycle_on_disk(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    backend, rotator = await _replica(tmp_path, clock)
    first = backend.signing_key().published.kid
    assert _states(tmp_path) == ["active"]

    clock.now += 540  # period - lead: the successor is created and published
    assert await rotator.converge() == [CreatePending("ES256")]
    assert _states(tmp_path) == ["active", "pending"]
    assert len(backend.published_keys()) == 2
    assert backend.signing_key().published.kid == first, "a pending key never signs"

    clock.now += 59
    assert await rotator.converge() == []
    clock.now += 1
    second = json.loads((tmp_path / "keyring.json").read_text())["keys"][1]["kid"]
    assert await rotator.converge() == [Activate(second)]
    assert backend.signing_key().published.kid == second
    assert {k.kid for k in backend.published_keys()} == {first, second}, "old key still verifies"

    clock.now += 119
    assert await rotator.converge() == []
    clock.now += 1
    assert await rotator.converge() == [Unpublish(first)]
    assert [k.kid for k in backend.published_keys()] == [second]
    assert _states(tmp_path) == ["retired", "active"]
    assert len(list(tmp_path.glob("*.pem"))) == 2, "retired key files are kept, never deleted at once"


async def test_replicas_sharing_a_directory_create_one_key_per_rotation(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    replicas = [await _replica(tmp_path, clock) for _ in range(4)]
    assert len({b.signing_key().published.kid for b, _ in replicas}) == 1
    for _ in range(3):
        clock.now += 540
        results = await asyncio.gather(*(r.converge() for _, r in replicas))
        created = [t for r in results for t in r if isinstance(t, CreatePending)]
        assert len(created) == 1, results
        clock.now += 60
        results = await asyncio.gather(*(r.converge() for _, r in replicas))
        assert [type(t) for r in results for t in r] == [Activate], results
        assert len({b.signing_key().published.kid for b, _ in replicas}) == 1
    assert len(list(tmp_path.glob("*.pem"))) == 4  # bootstrap + three rotations


async def test_other_replica_picks_up_changes_on_reload(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    (a, rot_a), (b, rot_b) = await _replica(tmp_path, clock), await _replica(tmp_path, clock)
    changes: list[int] = []
    rot_b.on_change = lambda: changes.append(1)
    clock.now += 540
    await rot_a.converge()
    clock.now += 60
    await rot_a.converge()
    assert a.signing_key().published.kid != b.signing_key().published.kid
    await rot_b.reload()
    assert a.signing_key().published.kid == b.signing_key().published.kid
    assert changes == [1]


async def test_crash_after_key_file_before_ring_leaves_no_orphan(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    backend, _ = await _replica(tmp_path, clock)
    record = await backend.create_key("ES256")  # ...and the process dies here
    assert (tmp_path / (record.ref + CREATING_SUFFIX)).exists()
    restarted, _ = await _replica(tmp_path, clock)
    assert not list(tmp_path.glob(f"*{CREATING_SUFFIX}"))
    assert record.kid not in {k.kid for k in restarted.published_keys()}
    assert len(list(tmp_path.glob("*.pem"))) == 1


async def test_crash_after_ring_write_before_rename_is_completed(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    backend, _ = await _replica(tmp_path, clock)
    record = await backend.create_key("ES256")
    from signet.keyring import add_pending

    snapshot = backend.snapshot
    await backend.write_ring(snapshot.version, add_pending(snapshot.records, record.kid, record.alg,
                                                           record.ref, clock.now))
    # ...and the process dies before the rename
    restarted, _ = await _replica(tmp_path, clock)
    assert (tmp_path / record.ref).exists()
    assert record.kid in {k.kid for k in restarted.published_keys()}


async def test_emergency_retire_stops_signing_and_publishing(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    backend, rotator = await _replica(tmp_path, clock)
    kid = backend.signing_key().published.kid
    await rotator.retire(kid)
    assert backend.published_keys() == []
    with pytest.raises(KeyUnavailableError, match="no active ES256 key"):
        backend.signing_key()
    # The next pass bootstraps a fresh key at once rather than leaving the issuer unable to sign.
    applied = await rotator.converge()
    assert [type(t) for t in applied] == [CreatePending, Activate]
    assert backend.signing_key().published.kid != kid


async def test_imported_pem_is_published_then_signs_after_the_lead(tmp_path: Path) -> None:
    from signet.keys.local import generate_private_key, write_private_key

    clock = Clock(1_000_000.0)
    backend, rotator = await _replica(tmp_path, clock)
    write_private_key(tmp_path / "ES256-imported.pem", generate_private_key(ALGORITHMS["ES256"]))
    await rotator.converge()
    assert len(backend.published_keys()) == 2
    assert "pending" in _states(tmp_path)
    clock.now += 60
    await rotator.converge()
    assert backend.signing_key().path.name == "ES256-imported.pem"


async def test_directory_from_before_the_ring_is_migrated(tmp_path: Path) -> None:
    from signet.keys.local import generate_private_key, write_private_key

    write_private_key(tmp_path / "ES256-a.pem", generate_private_key(ALGORITHMS["ES256"]))
    write_private_key(tmp_path / "ES256-b.pem", generate_private_key(ALGORITHMS["ES256"]))
    write_private_key(tmp_path / "ES384-c.pem", generate_private_key(ALGORITHMS["ES384"]))
    clock = Clock(1_000_000.0)
    backend, rotator = await _replica(tmp_path, clock)
    assert backend.signing_key().path.name == "ES256-b.pem", "the newest key keeps signing"
    assert len(backend.published_keys()) == 3, "the others stay published while tokens live"
    clock.now += POLICY.retire_after
    await rotator.converge()
    assert [k.kid for k in backend.published_keys()] == [backend.signing_key().published.kid]
