"""Rotation rules with an injected clock: every transition, every boundary second, clocks
that go backwards. No sleeping: the rules are pure functions of (ring, policy, now)."""

from __future__ import annotations

import random
from itertools import count

import pytest

from signet.keyring import (
    Activate,
    CreatePending,
    KeyRecord,
    KeyState,
    PlannedStep,
    RotationPolicy,
    TransitionError,
    Unpublish,
    activate,
    active_key,
    add_pending,
    due_transitions,
    emergency_retire,
    next_due_at,
    planned_step,
    published_keys,
    unpublish,
)

LEAD, RETIRE, PERIOD = 30.0, 50.0, 100.0
POLICY = RotationPolicy(publish_lead=LEAD, retire_after=RETIRE, rotation_period=PERIOD)


def apply_due(ring: list[KeyRecord], now: float, ids: count, alg: str = "ES256",
              policy: RotationPolicy = POLICY) -> tuple[list[KeyRecord], list[object]]:
    """Apply what is due until nothing is (a bootstrap takes two steps)."""
    done: list[object] = []
    while transitions := due_transitions(ring, alg, policy, now):
        for t in transitions:
            if isinstance(t, CreatePending):
                ring = add_pending(ring, f"k{next(ids)}", t.alg, "ref", now)
            elif isinstance(t, Activate):
                ring = activate(ring, t.kid, now)
            elif isinstance(t, Unpublish):
                ring = unpublish(ring, t.kid, now)
            done.append(t)
    return ring, done


def test_empty_ring_bootstraps_one_active_key() -> None:
    ring, done = apply_due([], 1000.0, count())
    assert [type(t) for t in done] == [CreatePending, Activate]
    assert [(k.kid, k.state) for k in ring] == [("k0", KeyState.ACTIVE)]
    assert due_transitions(ring, "ES256", POLICY, 1000.0) == []


def test_policy_from_lifetimes_and_validation() -> None:
    policy = RotationPolicy.from_lifetimes(verifier_cache_max_age=300, max_token_lifetime=900,
                                           leeway=30, rotation_period=86400)
    assert (policy.publish_lead, policy.retire_after) == (300, 930)
    with pytest.raises(ValueError, match="published before it signs"):
        RotationPolicy(publish_lead=100, retire_after=10, rotation_period=100)
    with pytest.raises(ValueError):
        RotationPolicy(publish_lead=-1, retire_after=10)


def test_every_boundary_second_of_one_rotation() -> None:
    ids = count()
    ring, _ = apply_due([], 0.0, ids)
    create_at = PERIOD - LEAD
    for now in range(int(create_at)):
        assert due_transitions(ring, "ES256", POLICY, float(now)) == [], now
    ring, done = apply_due(ring, create_at, ids)
    assert done == [CreatePending("ES256")]
    assert next_due_at(ring, "ES256", POLICY) == PERIOD
    for now in range(int(create_at), int(PERIOD)):
        assert due_transitions(ring, "ES256", POLICY, float(now)) == [], now
        assert active_key(ring, "ES256").kid == "k0"  # type: ignore[union-attr]
    assert due_transitions(ring, "ES256", POLICY, PERIOD - 0.001) == []
    ring, done = apply_due(ring, PERIOD, ids)
    assert done == [Activate("k1")]
    states = {k.kid: k.state for k in ring}
    assert states == {"k0": KeyState.RETIRING, "k1": KeyState.ACTIVE}
    assert next_due_at(ring, "ES256", POLICY) == PERIOD + RETIRE
    for now in range(int(PERIOD), int(PERIOD + RETIRE)):
        assert due_transitions(ring, "ES256", POLICY, float(now)) == [], now
    assert due_transitions(ring, "ES256", POLICY, PERIOD + RETIRE) == [Unpublish("k0")]


def simulate(times: list[float]) -> tuple[list[KeyRecord], dict[str, list[tuple[float, KeyState]]]]:
    """Run the rules at the given (possibly non-monotonic) times; record each key's history."""
    ids = count()
    ring: list[KeyRecord] = []
    history: dict[str, list[tuple[float, KeyState]]] = {}
    for now in times:
        ring, _ = apply_due(ring, now, ids)
        for key in ring:
            states = history.setdefault(key.kid, [])
            if not states or states[-1][1] is not key.state:
                states.append((now, key.state))
    return ring, history


def check_invariants(ring: list[KeyRecord]) -> None:
    assert len([k for k in ring if k.state is KeyState.ACTIVE]) == 1
    for key in ring:
        if key.activated_at is not None and key.kid != "k0":
            # published before it signed, for at least the verifiers' cache age
            assert key.activated_at - key.created_at >= LEAD, key
        if key.retired_at is not None:
            # stayed published until every token it signed had expired
            assert key.retiring_at is not None
            assert key.retired_at - key.retiring_at >= RETIRE, key
        if key.retiring_at is not None:
            assert key.activated_at is not None and key.retiring_at >= key.activated_at


def test_second_by_second_over_ten_rotations() -> None:
    ring, history = simulate([float(t) for t in range(0, int(10 * PERIOD) + 1)])
    check_invariants(ring)
    activations = sorted(k.activated_at for k in ring if k.activated_at is not None)
    assert activations == [i * PERIOD for i in range(11)], "one rotation per period, on time"
    assert len(ring) == 11, "exactly one key created per rotation"
    assert [k.state for k in ring[-2:]] == [KeyState.RETIRING, KeyState.ACTIVE]
    assert all(k.state is KeyState.RETIRED for k in ring[:-2])
    for kid, states in history.items():
        order = [s for _, s in states]
        assert order in (
            [KeyState.ACTIVE],  # bootstrap key seen first as active
            [KeyState.ACTIVE, KeyState.RETIRING], [KeyState.ACTIVE, KeyState.RETIRING, KeyState.RETIRED],
            [KeyState.PENDING], [KeyState.PENDING, KeyState.ACTIVE],
            [KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRING],
            [KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRING, KeyState.RETIRED],
        ), (kid, order)


@pytest.mark.parametrize("seed", range(20))
def test_sparse_and_backwards_clocks_never_break_the_timing_rules(seed: int) -> None:
    rng = random.Random(seed)
    now, times = 0.0, []
    for _ in range(400):
        now = max(0.0, now + rng.choice([rng.uniform(0, 40), rng.uniform(-60, 0), 0.0]))
        times.append(now)
    ring, _ = simulate(times)
    check_invariants(ring)


def test_clock_going_backwards_makes_nothing_due() -> None:
    ids = count()
    ring, _ = apply_due([], 1000.0, ids)
    ring, _ = apply_due(ring, 1000.0 + PERIOD - LEAD, ids)
    for earlier in (0.0, 500.0, 999.0, 1000.0 + PERIOD - LEAD - 1):
        assert due_transitions(ring, "ES256", POLICY, earlier) == []


def test_manual_rotation_without_period_activates_after_the_lead() -> None:
    manual = RotationPolicy(publish_lead=LEAD, retire_after=RETIRE)
    ids = count()
    ring, _ = apply_due([], 0.0, ids, policy=manual)
    assert due_transitions(ring, "ES256", manual, 10_000.0) == [], "no period: never rotates alone"
    ring = add_pending(ring, "manual", "ES256", "ref", 10_000.0)
    assert due_transitions(ring, "ES256", manual, 10_000.0 + LEAD - 1) == []
    assert due_transitions(ring, "ES256", manual, 10_000.0 + LEAD) == [Activate("manual")]


def test_emergency_retire_unpublishes_at_once_and_a_pending_key_takes_over() -> None:
    ids = count()
    ring, _ = apply_due([], 0.0, ids)
    ring, _ = apply_due(ring, PERIOD - LEAD, ids)  # k1 pending
    ring = emergency_retire(ring, "k0", PERIOD - LEAD + 1)
    assert [k.kid for k in published_keys(ring)] == ["k1"]
    # Nothing signs now: the published pending key takes over without waiting for the lead.
    assert due_transitions(ring, "ES256", POLICY, PERIOD - LEAD + 1) == [Activate("k1")]
    assert emergency_retire(ring, "k0", 5000.0) == ring, "idempotent"


def test_algorithms_rotate_independently() -> None:
    ids = count()
    ring, _ = apply_due([], 0.0, ids, alg="ES256")
    ring, _ = apply_due(ring, 10.0, ids, alg="RS256")
    assert {k.alg for k in ring if k.state is KeyState.ACTIVE} == {"ES256", "RS256"}
    ring = add_pending(ring, "new-es", "ES256", "ref", 20.0)
    ring = activate(ring, "new-es", 20.0 + LEAD)
    assert active_key(ring, "RS256").kid == "k1"  # type: ignore[union-attr]


def test_invalid_transitions_are_refused() -> None:
    ids = count()
    ring, _ = apply_due([], 0.0, ids)
    with pytest.raises(TransitionError):
        activate(ring, "k0", 1.0)  # already active
    with pytest.raises(TransitionError):
        unpublish(ring, "k0", 1.0)  # still signing
    with pytest.raises(TransitionError):
        activate(ring, "nope", 1.0)
    with pytest.raises(TransitionError):
        add_pending(ring, "k0", "ES256", "ref", 1.0)


def test_planned_steps_are_exactly_when_the_rules_act() -> None:
    """What `signet keys list` and /keyring.json announce is when due_transitions acts."""
    ids = count()
    ring, _ = apply_due([], 0.0, ids)
    (first,) = ring
    assert planned_step(first, POLICY) == PlannedStep("successor_activates", PERIOD)
    assert planned_step(first, RotationPolicy(LEAD, RETIRE)) is None  # manual rotation: no plan
    ring, _ = apply_due(ring, PERIOD - LEAD, ids)
    (pending,) = [k for k in ring if k.state is KeyState.PENDING]
    assert planned_step(pending, POLICY, ring) == PlannedStep("activates", PERIOD)
    assert planned_step(first, POLICY, ring) == PlannedStep("successor_activates", PERIOD)
    assert due_transitions(ring, "ES256", POLICY, PERIOD - 0.001) == []
    ring, _ = apply_due(ring, PERIOD, ids)
    (retiring,) = [k for k in ring if k.state is KeyState.RETIRING]
    assert planned_step(retiring, POLICY) == PlannedStep("unpublished", PERIOD + RETIRE)
    assert Unpublish(retiring.kid) not in due_transitions(ring, "ES256", POLICY, PERIOD + RETIRE - 0.001)
    assert Unpublish(retiring.kid) in due_transitions(ring, "ES256", POLICY, PERIOD + RETIRE)
    ring, _ = apply_due(ring, PERIOD + RETIRE, ids)
    assert planned_step(next(k for k in ring if k.kid == retiring.kid), POLICY) is None  # retired
