"""Key states and the rotation rules, as pure functions of (ring, policy, now).

No I/O and no clock of its own: storage (keyring.json, KMS tags) and locking live in
the backends; this module only says which transition is due, so every boundary can be
tested without sleeping.

    pending  -> active   once published for at least the verifiers' key-cache age
    active   -> retiring when a newer key of the same algorithm activates
    retiring -> retired  once every token it signed has expired (lifetime + leeway)
    any      -> retired  by an emergency retire (compromise): unpublished at once
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class KeyState(StrEnum):
    PENDING = "pending"  # published, not signing
    ACTIVE = "active"  # published, signing (exactly one per algorithm)
    RETIRING = "retiring"  # published, not signing, its tokens may still be alive
    RETIRED = "retired"  # unpublished; the backend schedules deletion


PUBLISHED_STATES = frozenset({KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRING})


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key of the ring. Times are Unix seconds; None means "not reached yet"."""

    kid: str
    alg: str
    state: KeyState
    created_at: float
    ref: str = ""  # the backend's handle: a file name or a KMS key ARN
    activated_at: float | None = None
    retiring_at: float | None = None
    retired_at: float | None = None

    @property
    def published(self) -> bool:
        return self.state in PUBLISHED_STATES


@dataclass(frozen=True, slots=True)
class RingSnapshot:
    """The ring as read from its store; `version` changes whenever the ring does."""

    version: int
    records: tuple[KeyRecord, ...]


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """Timing derived from configuration, never hard-coded.

    publish_lead: how long a key is published before it signs; at least the longest
        time any verifier may cache the JWKS (its max cache age).
    retire_after: how long a key stays published after it stopped signing; at least
        the longest token lifetime plus the verifiers' leeway.
    rotation_period: how long a key signs before the next one takes over; None = manual.
    """

    publish_lead: float
    retire_after: float
    rotation_period: float | None = None

    def __post_init__(self) -> None:
        if self.publish_lead < 0 or self.retire_after < 0:
            raise ValueError("publish_lead and retire_after must not be negative")
        if self.rotation_period is not None and self.rotation_period <= self.publish_lead:
            raise ValueError("rotation_period must be longer than publish_lead"
                             " (a key must be published before it signs)")

    @classmethod
    def from_lifetimes(cls, verifier_cache_max_age: float, max_token_lifetime: float,
                       leeway: float, rotation_period: float | None = None) -> RotationPolicy:
        return cls(verifier_cache_max_age, max_token_lifetime + leeway, rotation_period)


# Transitions ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CreatePending:
    """Create a new key and publish it (the backend makes the key; `apply` records it)."""

    alg: str


@dataclass(frozen=True, slots=True)
class Activate:
    """`kid` starts signing; the previous active key of its algorithm (if any) retires."""

    kid: str


@dataclass(frozen=True, slots=True)
class Unpublish:
    """`kid` leaves the JWKS; its tokens have all expired."""

    kid: str


Transition = CreatePending | Activate | Unpublish


def _elapsed(since: float | None, now: float) -> float:
    """Time since `since`; a clock that went backwards counts as no time at all."""
    return 0.0 if since is None else max(0.0, now - since)


def _by_alg(ring: Iterable[KeyRecord], alg: str, state: KeyState) -> list[KeyRecord]:
    return [k for k in ring if k.alg == alg and k.state is state]


def active_key(ring: Iterable[KeyRecord], alg: str) -> KeyRecord | None:
    active = _by_alg(ring, alg, KeyState.ACTIVE)
    return max(active, key=lambda k: k.activated_at or 0.0) if active else None


def published_keys(ring: Iterable[KeyRecord]) -> list[KeyRecord]:
    return [k for k in ring if k.published]


def due_transitions(ring: Sequence[KeyRecord], alg: str, policy: RotationPolicy,
                    now: float) -> list[Transition]:
    """What should happen now, in the order to apply it: `alg` is the algorithm that must
    keep signing; retiring keys of every algorithm are unpublished when their time comes."""
    transitions: list[Transition] = [
        Unpublish(k.kid) for k in ring
        if k.state is KeyState.RETIRING and _elapsed(k.retiring_at, now) >= policy.retire_after
    ]
    active = active_key(ring, alg)
    pending = sorted(_by_alg(ring, alg, KeyState.PENDING), key=lambda k: k.created_at)
    if active is None:
        # Nothing signs: take the longest-published pending key, else bootstrap a new one.
        # No token of a key that never signed can be in flight, so there is nothing to wait for.
        transitions.append(Activate(pending[0].kid) if pending else CreatePending(alg))
        return transitions
    if pending:
        ready = [k for k in pending if _elapsed(k.created_at, now) >= policy.publish_lead]
        if ready:  # auto rotation creates it publish_lead before the period ends
            transitions.append(Activate(ready[0].kid))
        return transitions
    if rotation_due(active, policy, now):
        transitions.append(CreatePending(alg))
    return transitions


def rotation_due(active: KeyRecord, policy: RotationPolicy, now: float) -> bool:
    """True once the active key is old enough that its successor must be prepared (or sign).

    The successor is created `publish_lead` before the period ends, so it can start
    signing exactly when the period is over.
    """
    if policy.rotation_period is None:
        return False
    return _elapsed(active.activated_at, now) >= policy.rotation_period - policy.publish_lead


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """What the rules will do next to one key, and when: shown to operators (CLI, /keyring)."""

    event: str  # "activates" | "unpublished" | "successor_activates"
    at: float


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """Every step still ahead of one key (None: not planned), read off the whole ring.

    A key's hand-off depends on its neighbours: after a manual rotation the active key's
    successor signs when the pending key's publish lead ends, not when the period would."""

    activates_at: float | None = None
    successor_activates_at: float | None = None
    unpublish_at: float | None = None
    next: PlannedStep | None = None


def _plan_alg(keys: list[KeyRecord], policy: RotationPolicy, now: float) -> dict[str, KeyPlan]:
    plans: dict[str, KeyPlan] = {}
    period = policy.rotation_period
    active = active_key(keys, keys[0].alg)
    pending = sorted((k for k in keys if k.state is KeyState.PENDING), key=lambda k: k.created_at)
    # Pending keys activate one after the other, each once its own lead is over; with
    # nothing signing, the first activates at once (the issuer's next pass).
    activations: list[float] = []
    handoff = None if active is not None else (pending[0].created_at if pending else None)
    for key in pending:
        at = key.created_at + policy.publish_lead
        if handoff is not None and not activations:
            at = handoff
        elif activations:
            at = max(at, activations[-1])
        activations.append(at)
    for key, at in zip(pending, activations, strict=True):
        later = [t for t in activations if t > at]
        successor = later[0] if later else (at + period if period is not None else None)
        unpublish = None if successor is None else successor + policy.retire_after
        plans[key.kid] = KeyPlan(at, successor, unpublish, PlannedStep("activates", at))
    if active is not None and active.activated_at is not None:
        successor = activations[0] if activations else None
        if successor is None and period is not None:
            successor = active.activated_at + period
            if rotation_due(active, policy, now):  # the successor is made on the next pass
                successor = max(successor, now + policy.publish_lead)
        plans[active.kid] = KeyPlan(
            None, successor, None if successor is None else successor + policy.retire_after,
            None if successor is None else PlannedStep("successor_activates", successor))
    for key in keys:
        if key.state is KeyState.RETIRING and key.retiring_at is not None:
            at = key.retiring_at + policy.retire_after
            plans[key.kid] = KeyPlan(None, None, at, PlannedStep("unpublished", at))
    return plans


def plan_ring(ring: Sequence[KeyRecord], policy: RotationPolicy, now: float) -> dict[str, KeyPlan]:
    """The plan of every key in `ring` (retired keys and keys without a plan: an empty KeyPlan),
    as `due_transitions` will carry it out; `now` only matters when a rotation is overdue."""
    plans = {k.kid: KeyPlan() for k in ring}
    for alg in dict.fromkeys(k.alg for k in ring):
        plans.update(_plan_alg([k for k in ring if k.alg == alg], policy, now))
    return plans


def planned_step(record: KeyRecord, policy: RotationPolicy,
                 ring: Sequence[KeyRecord] | None = None, now: float = 0.0) -> PlannedStep | None:
    """The next transition of `record` under `policy`, given the rest of `ring` (default: the
    key alone); None when nothing is scheduled (a retired key, or an active key under manual
    rotation with nothing pending)."""
    return plan_ring(ring if ring is not None else [record], policy, now)[record.kid].next


def next_due_at(ring: Sequence[KeyRecord], alg: str, policy: RotationPolicy) -> float | None:
    """The earliest time at which `due_transitions` may return something new (for sleeping)."""
    times: list[float] = [k.retiring_at + policy.retire_after for k in ring
                          if k.state is KeyState.RETIRING and k.retiring_at is not None]
    pending = _by_alg(ring, alg, KeyState.PENDING)
    active = active_key(ring, alg)
    if pending:
        times.append(min(k.created_at for k in pending) + policy.publish_lead)
    elif active is not None and active.activated_at is not None and policy.rotation_period is not None:
        times.append(active.activated_at + policy.rotation_period - policy.publish_lead)
    return min(times) if times else None


# Applying transitions -----------------------------------------------------------------

class TransitionError(ValueError):
    """A transition that does not fit the ring (stale plan, unknown kid)."""


def _find(ring: Sequence[KeyRecord], kid: str) -> KeyRecord:
    for key in ring:
        if key.kid == kid:
            return key
    raise TransitionError(f"no key {kid!r} in the ring")


def add_pending(ring: Sequence[KeyRecord], kid: str, alg: str, ref: str,
                now: float) -> list[KeyRecord]:
    if any(k.kid == kid for k in ring):
        raise TransitionError(f"key {kid!r} is already in the ring")
    return [*ring, KeyRecord(kid, alg, KeyState.PENDING, created_at=now, ref=ref)]


def activate(ring: Sequence[KeyRecord], kid: str, now: float) -> list[KeyRecord]:
    """`kid` becomes the one active key of its algorithm; the previous one starts retiring."""
    target = _find(ring, kid)
    if target.state is not KeyState.PENDING:
        raise TransitionError(f"key {kid!r} is {target.state}, only a pending key can activate")
    updated: list[KeyRecord] = []
    for key in ring:
        if key.kid == kid:
            key = replace(key, state=KeyState.ACTIVE, activated_at=now)
        elif key.alg == target.alg and key.state is KeyState.ACTIVE:
            key = replace(key, state=KeyState.RETIRING, retiring_at=now)
        updated.append(key)
    return updated


def unpublish(ring: Sequence[KeyRecord], kid: str, now: float) -> list[KeyRecord]:
    target = _find(ring, kid)
    if target.state is not KeyState.RETIRING:
        raise TransitionError(f"key {kid!r} is {target.state}, only a retiring key can be unpublished")
    return [replace(k, state=KeyState.RETIRED, retired_at=now) if k.kid == kid else k for k in ring]


def emergency_retire(ring: Sequence[KeyRecord], kid: str, now: float) -> list[KeyRecord]:
    """Stop signing and publishing `kid` now: every token it signed stops verifying."""
    target = _find(ring, kid)
    if target.state is KeyState.RETIRED:
        return list(ring)
    return [replace(k, state=KeyState.RETIRED, retired_at=now,
                    retiring_at=k.retiring_at if k.retiring_at is not None else now)
            if k.kid == kid else k for k in ring]


# Serialisation (shared by every ring store) ---------------------------------------------

def record_to_dict(record: KeyRecord) -> dict[str, object]:
    return {"kid": record.kid, "alg": record.alg, "state": record.state.value,
            "created_at": record.created_at, "ref": record.ref,
            "activated_at": record.activated_at, "retiring_at": record.retiring_at,
            "retired_at": record.retired_at}


def record_from_dict(data: dict[str, object]) -> KeyRecord:
    def opt(name: str) -> float | None:
        value = data.get(name)
        return None if value is None else float(value)  # type: ignore[arg-type]

    return KeyRecord(kid=str(data["kid"]), alg=str(data["alg"]), state=KeyState(str(data["state"])),
                     created_at=float(data["created_at"]), ref=str(data.get("ref", "")),  # type: ignore[arg-type]
                     activated_at=opt("activated_at"), retiring_at=opt("retiring_at"),
                     retired_at=opt("retired_at"))
