"""Drive a backend's key ring through the rules of signet.keyring.

Every replica runs the same loop. Each pass takes the ring lock, re-reads the ring and
applies only what is due now, so whichever replica gets the lock first performs a
transition and the others find nothing left to do. Between passes every replica reloads
the ring, so none signs with a key that stopped being active for longer than one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from signet.keyring import (
    Activate,
    CreatePending,
    KeyRecord,
    KeyState,
    RingSnapshot,
    RotationPolicy,
    Transition,
    Unpublish,
    activate,
    active_key,
    add_pending,
    due_transitions,
    emergency_retire,
    next_due_at,
    published_keys,
    unpublish,
)

log = logging.getLogger("signet.rotation")

# Keys published at once (pending, active, retiring): well below the 100 that Signet's verifier
# accepts in one JWKS, so no series of rotations can make every verifier refuse the key set.
MAX_PUBLISHED_KEYS = 10


class RotationRefused(Exception):
    """A rotation that would stack keys: one is already pending, or the cap is reached.
    str() says what is pending and when it signs; `pending` is that key, if any."""

    def __init__(self, message: str, pending: KeyRecord | None = None) -> None:
        super().__init__(message)
        self.pending = pending


class KeyAlreadyRetired(RotationRefused):
    """An emergency retire of a key that is retired already: nothing changed."""

    def __init__(self, record: KeyRecord) -> None:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.retired_at or 0))
        super().__init__(f"key {record.kid} is already retired (since {since}); nothing changed")
        self.record = record


class RotatingBackend(Protocol):
    """What a key backend offers so that its keys can rotate."""

    snapshot: RingSnapshot

    def ring_lock(self) -> AbstractAsyncContextManager[object]: ...
    async def repair_ring(self) -> None:
        """Finish or undo what a crash left half-done (under the lock)."""
        ...
    async def read_ring(self) -> RingSnapshot: ...
    async def write_ring(self, expected_version: int, records: list[KeyRecord]) -> RingSnapshot: ...
    async def create_key(self, alg_name: str) -> KeyRecord: ...
    async def key_recorded(self, record: KeyRecord) -> None: ...
    async def key_unpublished(self, record: KeyRecord) -> None: ...
    async def use_ring(self, snapshot: RingSnapshot) -> None:
        """Serve exactly the published keys of `snapshot`; sign with its active key."""
        ...


def supports_rotation(backend: object) -> bool:
    return all(hasattr(backend, name) for name in ("ring_lock", "repair_ring", "read_ring", "use_ring"))


async def ensure_active(backend: RotatingBackend, alg_name: str,
                        clock: Callable[[], float] = time.time) -> RingSnapshot:
    """Load the ring and, when nothing signs for `alg_name`, create and activate a key at once.

    Needs no policy: a key that never signed has no tokens in flight, so nothing to wait for.
    """
    async with backend.ring_lock():
        await backend.repair_ring()
        snapshot = await backend.read_ring()
        if active_key(snapshot.records, alg_name) is None:
            pending = [r for r in snapshot.records if r.alg == alg_name and r.state is KeyState.PENDING]
            if not pending:
                record = await backend.create_key(alg_name)
                snapshot = await backend.write_ring(snapshot.version, add_pending(
                    snapshot.records, record.kid, record.alg, record.ref, clock()))
                await backend.key_recorded(record)
                pending = [record]
            snapshot = await backend.write_ring(
                snapshot.version, activate(snapshot.records, pending[0].kid, clock()))
    await backend.use_ring(snapshot)
    return snapshot


class Rotator:
    def __init__(self, backend: RotatingBackend, alg_name: str, policy: RotationPolicy,
                 clock: Callable[[], float] = time.time,
                 on_change: Callable[[], Awaitable[None] | None] | None = None) -> None:
        self.backend = backend
        self.alg_name = alg_name
        self.policy = policy
        self.clock = clock
        self.on_change = on_change

    async def converge(self) -> list[Transition]:
        """Apply every transition due now; returns what this replica applied."""
        applied: list[Transition] = []
        async with self.backend.ring_lock():
            await self.backend.repair_ring()
            snapshot = await self.backend.read_ring()
            now = self.clock()
            while transitions := due_transitions(snapshot.records, self.alg_name, self.policy, now):
                for transition in transitions:
                    snapshot = await self._apply(snapshot, transition, now)
                    applied.append(transition)
        await self._use(snapshot)
        return applied

    async def reload(self) -> None:
        """Pick up changes other replicas made (reading needs no lock)."""
        await self._use(await self.backend.read_ring())

    async def rotate_now(self, force: bool = False) -> KeyRecord:
        """Start a rotation: publish a new pending key; it signs once the publish lead has passed.

        At most one key is pending: a second rotation is refused (RotationRefused) unless
        forced, and then the new key *replaces* the pending one (which never signed), so keys
        never stack. Even forced, at most MAX_PUBLISHED_KEYS are published."""
        async with self.backend.ring_lock():
            snapshot = await self.backend.read_ring()
            now = self.clock()
            pending = [r for r in snapshot.records
                       if r.alg == self.alg_name and r.state is KeyState.PENDING]
            if pending and not force:
                signs_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
                    (pending[0].created_at or now) + self.policy.publish_lead))
                raise RotationRefused(f"key {pending[0].kid} is already pending; it signs from"
                                      f" {signs_at}. Force the rotation to replace it.", pending[0])
            for record in pending:  # forced: the pending key never signed; unpublish it
                snapshot = await self.backend.write_ring(
                    snapshot.version, emergency_retire(snapshot.records, record.kid, now))
                await self.backend.key_unpublished(record)
                self._log("pending key replaced (unpublished, never signed)", record)
            published = len(published_keys(snapshot.records))
            if published >= MAX_PUBLISHED_KEYS:
                raise RotationRefused(f"{published} keys are published, at most {MAX_PUBLISHED_KEYS}:"
                                      " rotate again once a retiring key is unpublished")
            snapshot = await self._apply(snapshot, CreatePending(self.alg_name), now)
        await self._use(snapshot)
        return snapshot.records[-1]

    async def retire(self, kid: str) -> KeyRecord:
        """Emergency: stop signing and publishing `kid` now. Its tokens stop verifying.
        A key already retired raises KeyAlreadyRetired and the ring is not written."""
        async with self.backend.ring_lock():
            snapshot = await self.backend.read_ring()
            for existing in snapshot.records:
                if existing.kid == kid and existing.state is KeyState.RETIRED:
                    raise KeyAlreadyRetired(existing)
            records = emergency_retire(snapshot.records, kid, self.clock())
            snapshot = await self.backend.write_ring(snapshot.version, records)
            record = next(r for r in snapshot.records if r.kid == kid)
            await self.backend.key_unpublished(record)
        self._log("emergency retire", record)
        await self._use(snapshot)
        return record

    async def run(self, interval: float) -> None:
        """Converge and reload forever, waking at least every `interval` seconds."""
        while True:
            try:
                await self.converge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving; the next pass retries
                log.warning("key rotation pass failed; still signing with the ring as last read",
                            extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
                with contextlib.suppress(Exception):
                    await self.reload()  # reading needs no lock: follow other replicas anyway
            due = next_due_at(self.backend.snapshot.records, self.alg_name, self.policy)
            wait = interval if due is None else min(interval, max(0.05, due - self.clock()))
            await asyncio.sleep(wait)

    async def _apply(self, snapshot: RingSnapshot, transition: Transition, now: float) -> RingSnapshot:
        backend = self.backend
        if isinstance(transition, CreatePending):
            record = await backend.create_key(transition.alg)
            snapshot = await backend.write_ring(snapshot.version, add_pending(
                snapshot.records, record.kid, record.alg, record.ref, now))
            await backend.key_recorded(record)
            self._log("key created and published (pending)", record)
        elif isinstance(transition, Activate):
            snapshot = await backend.write_ring(snapshot.version,
                                                activate(snapshot.records, transition.kid, now))
            for record in snapshot.records:
                if record.kid == transition.kid:
                    self._log("key activated (signing)", record)
                elif record.state is KeyState.RETIRING and record.retiring_at == now:
                    self._log("key retiring (published, not signing)", record)
        elif isinstance(transition, Unpublish):
            snapshot = await backend.write_ring(snapshot.version,
                                                unpublish(snapshot.records, transition.kid, now))
            record = next(r for r in snapshot.records if r.kid == transition.kid)
            await backend.key_unpublished(record)
            self._log("key retired (unpublished)", record)
        return snapshot

    async def _use(self, snapshot: RingSnapshot) -> None:
        changed = snapshot.version != self.backend.snapshot.version
        await self.backend.use_ring(snapshot)
        if changed and self.on_change is not None:
            result = self.on_change()
            if result is not None:
                await result

    @staticmethod
    def _log(event: str, record: KeyRecord) -> None:
        log.info(event, extra={"fields": {"event": "key_" + record.state.value, "kid": record.kid,
                                          "alg": record.alg, "state": record.state.value}})
