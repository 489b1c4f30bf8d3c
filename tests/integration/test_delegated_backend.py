"""The ephemeral key manager (signet.keys.delegated) with a KMS root on moto's server and a
real Redis; the clock is injected, nothing sleeps.

Redis outages are injected by pointing the store at a closed port (a fault, said here)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.attestation import ATTESTATION_MEMBER, attestation_input
from signet.jose import compact
from signet.keys.attested_store import AttestedKeyStore
from signet.keys.base import PublishedKey
from signet.keys.delegated import DelegatedBackend, DelegatedTiming, EphemeralKey
from signet.keys.kms import KmsKeyBackend
from signet.keys.local import generate_private_key
from signet.signer import JwsSigner
from tests.support.clock import Clock
from tests.support.processes import free_port

ISSUER = "https://issuer.example"
TIMING = DelegatedTiming(publish_lead=60, retire_after=120, lifetime=600, tick=5)
ES256 = ALGORITHMS["ES256"]


@pytest.fixture(scope="module")
def root_key_id(kms) -> str:  # type: ignore[no-untyped-def]
    return str(kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"])


@pytest.fixture
async def make(moto_endpoint, moto_session, redis_url, root_key_id) -> AsyncIterator[Callable]:  # type: ignore[no-untyped-def]
    prefix = f"signet-test-{uuid.uuid4().hex[:8]}:"
    opened: list[DelegatedBackend] = []

    async def build(clock: Clock, url: str = redis_url) -> DelegatedBackend:
        root = KmsKeyBackend(root_key_id, ES256, endpoint_url=moto_endpoint, region="us-east-1",
                             session=moto_session)
        store = AttestedKeyStore(redis.Redis.from_url(url, socket_timeout=0.5,
                                                      socket_connect_timeout=0.5), prefix, ISSUER)
        backend = DelegatedBackend(root, ISSUER, ES256, TIMING, store, clock=clock)
        await backend.open()
        opened.append(backend)
        return backend

    yield build
    for backend in opened:
        await backend.aclose()


def kids(backend: DelegatedBackend) -> set[str]:
    return {k.kid for k in backend.published_keys()}


def root_kid(backend: DelegatedBackend) -> str:
    return backend.root.signing_key().published.kid


async def test_first_key_is_published_a_lead_before_it_signs_then_signs_without_kms(make) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend = await make(clock)
    (key,) = backend.own
    assert key.kid in kids(backend) and root_kid(backend) in kids(backend)
    signer = JwsSigner(backend)
    _, kid = await signer.sign_with_kid({"sub": "a"})
    assert kid == root_kid(backend)  # pending: the root (KMS) signs meanwhile
    clock.now += TIMING.publish_lead - 1
    await backend.tick()
    assert backend.signing_key().published.kid == root_kid(backend)
    clock.now += 1
    await backend.tick()
    for _ in range(50):
        _, kid = await signer.sign_with_kid({"sub": "a"})
        assert kid == key.kid
    assert (backend.kms_sign_calls_saved, backend.attestations_signed, backend.root_signatures) == (50, 1, 1)
    assert backend.ephemeral_key_age_seconds == TIMING.publish_lead
    jwk = next(k.jwk for k in backend.published_keys() if k.kid == key.kid)
    assert jwk[ATTESTATION_MEMBER] == key.attestation and "d" not in jwk


async def first_key_signing(make) -> tuple[Clock, DelegatedBackend, EphemeralKey]:  # type: ignore[no-untyped-def]
    """A backend whose first ephemeral key has been published for the lead and now signs."""
    clock = Clock()
    backend = await make(clock)
    clock.now += TIMING.publish_lead
    await backend.tick()
    first = backend.own[0]
    assert first.active_until is not None
    return clock, backend, first


async def test_rollover_follows_the_ring_rules(make) -> None:  # type: ignore[no-untyped-def]
    clock, backend, first = await first_key_signing(make)
    assert first.active_until == clock.now + TIMING.lifetime
    # The successor is attested and published a publish lead (and one tick) before the first
    # key ends...
    clock.now = first.active_until - TIMING.publish_lead - TIMING.tick - 1
    await backend.tick()
    assert len(backend.own) == 1
    clock.now += 1
    await backend.tick()
    second = backend.own[1]
    assert second.activated_at is None and second.kid in kids(backend)
    assert backend.signing_key().published.kid == first.kid
    # ...and takes over once published for the lead, just before the first key would end,
    # so the root never has to sign in between; the first stays published until its tokens
    # expire.
    clock.now = second.created_at + TIMING.publish_lead
    await backend.tick()
    assert backend.signing_key().published.kid == second.kid
    assert first.active_until == clock.now
    clock.now = first.active_until + TIMING.retire_after
    await backend.tick()
    assert first.kid in kids(backend)
    assert first.expires >= first.active_until + TIMING.retire_after
    clock.now = first.expires
    await backend.tick()
    assert first.kid not in kids(backend) and second.kid in kids(backend)
    # One KMS Sign per key: by then the second key is ending too, so a third was attested.
    assert backend.attestations_signed == len({first.kid, second.kid, backend.own[-1].kid}) == 3


async def test_replicas_publish_each_others_keys(make) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    a, b = await make(clock), await make(clock)
    await a.tick()  # a reads b's key, written after a's first pass
    assert kids(a) == kids(b)
    assert {a.own[0].kid, b.own[0].kid} <= kids(a)


async def test_redis_cannot_inject_a_key_the_root_did_not_attest(make, redis_url) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend = await make(clock)
    impostor_root = generate_private_key(ES256)
    impostor_root_pub = PublishedKey(ES256, impostor_root.public_key())  # type: ignore[arg-type]
    evil = PublishedKey(ES256, generate_private_key(ES256).public_key())  # type: ignore[arg-type]
    data = attestation_input(ISSUER, evil.jwk, "ES256", root_kid(backend), clock.now, clock.now + 900,
                             clock.now)
    forged = compact(data, signatures.sign(ES256, impostor_root, data))
    assert impostor_root_pub.kid != root_kid(backend)
    assert backend.store is not None
    await backend.store.put(forged, clock.now + 900)
    await backend.tick()
    assert evil.kid not in kids(backend)


async def test_redis_down_keeps_the_current_key_then_falls_back_to_the_root(make) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend = await make(clock)
    clock.now += TIMING.publish_lead
    await backend.tick()
    first: EphemeralKey = backend.own[0]
    assert backend.signing_key().published.kid == first.kid
    # Fault injection: Redis goes away (the store now points at a port nobody listens on).
    assert backend.store is not None
    await backend.store.aclose()
    backend.store = AttestedKeyStore(redis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.3, socket_connect_timeout=0.3),
        "x:", ISSUER)
    clock.now = first.active_until - TIMING.publish_lead - TIMING.tick
    await backend.tick()  # successor created, but it cannot be shared...
    successor = backend.own[-1]
    assert successor is not first and successor.visible_since is None
    clock.now = first.active_until - 1
    await backend.tick()
    assert backend.signing_key().published.kid == first.kid  # ...the current key still signs
    clock.now = first.active_until + TIMING.publish_lead
    await backend.tick()
    signer = JwsSigner(backend)
    _, kid = await signer.sign_with_kid({"sub": "a"})
    assert kid == root_kid(backend)  # never an unshared key: the root signs
    assert first.kid in kids(backend)  # its tokens still verify
    assert successor.activated_at is None


async def test_ephemeral_private_keys_never_reach_logs_or_redis(make, redis_url, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from signet.jose import b64url_encode

    caplog.set_level(logging.DEBUG)
    clock = Clock()
    backend = await make(clock)
    clock.now += TIMING.publish_lead
    await backend.tick()
    await JwsSigner(backend).sign({"sub": "a"})
    key = backend.own[0]
    d = key.private_key.private_numbers().private_value  # type: ignore[union-attr]
    secrets = {b64url_encode(d.to_bytes(32, "big")), str(d), hex(d)[2:]}
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "delegated key active" in logged
    assert not any(s in logged for s in secrets)
    assert backend.store is not None
    stored = await backend.store.client.zrange(backend.store.key, 0, -1)
    assert stored and not any(s.encode() in m for m in stored for s in secrets)


def test_signing_mode_setting_is_checked_and_defaults_to_kms() -> None:
    from app.settings import ConfigurationError, load_settings

    assert load_settings().signing_mode == "kms"
    with pytest.raises(ConfigurationError, match="SIGNET_SIGNING_MODE"):
        load_settings(signing_mode="fast")
    with pytest.raises(ConfigurationError, match="SIGNET_DELEGATED_KEY_LIFETIME"):
        load_settings(delegated_key_lifetime="0s")


async def test_redis_down_at_start_up_signs_with_the_root_and_never_activates(make) -> None:  # type: ignore[no-untyped-def]
    """Fault injection: the store points at a port nobody listens on from the start."""
    clock = Clock()
    backend = await make(clock, url=f"redis://127.0.0.1:{free_port()}/0")
    clock.now += 10 * TIMING.publish_lead
    await backend.tick()
    assert backend.own and backend.own[0].visible_since is None
    _, kid = await JwsSigner(backend).sign_with_kid({"sub": "a"})
    assert kid == root_kid(backend) and backend.ephemeral_key_age_seconds is None
    await backend.check_reachable()  # ready: the root (KMS) can sign


async def test_a_key_lost_from_redis_waits_a_full_lead_again(make) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend = await make(clock)
    (key,) = backend.own
    clock.now += TIMING.publish_lead - 1
    assert backend.store is not None
    await backend.store.client.delete(backend.store.key)  # Redis flushed under us
    await backend.tick()
    assert key.visible_since == clock.now  # re-shared now, so the lead starts again
    clock.now += 1
    await backend.tick()
    assert key.activated_at is None and backend.signing_key().published.kid == root_kid(backend)
    clock.now = key.visible_since + TIMING.publish_lead
    await backend.tick()
    assert backend.signing_key().published.kid == key.kid


async def test_a_replica_shutting_down_leaves_its_keys_only_as_long_as_their_tokens(make) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    a, b = await make(clock), await make(clock)
    clock.now += TIMING.publish_lead
    await a.tick()
    await b.tick()
    signed = a.own[0]
    assert signed.activated_at is not None
    clock.now = signed.active_until - TIMING.publish_lead - TIMING.tick  # a successor is pending
    await a.tick()
    never_signed = a.own[-1]
    assert never_signed.activated_at is None
    stopped = clock.now
    await a.aclose()
    await b.tick()
    assert {signed.kid, never_signed.kid} <= kids(b)
    clock.now = stopped + 2 * TIMING.tick
    await b.tick()
    assert never_signed.kid not in kids(b)  # it never signed: nothing to keep it for
    clock.now = stopped + TIMING.retire_after - 1
    await b.tick()
    assert signed.kid in kids(b)  # its last tokens may still be out
    clock.now = stopped + TIMING.retire_after
    await b.tick()
    assert signed.kid not in kids(b) and signed.expires > clock.now  # well before its attestation ends


class SlowRoot:
    """Fault injection: the root's Sign takes `delay` seconds of the injected clock, as KMS
    does while it throttles and the client retries. Everything else is the real root."""

    def __init__(self, root: Any, clock: Clock, delay: float) -> None:
        self._root, self._clock, self.delay = root, clock, delay
        self.finished: list[float] = []  # when each Sign returned

    def __getattr__(self, name: str) -> Any:
        return getattr(self._root, name)

    def signing_key(self) -> Any:
        key, clock, delay, finished = self._root.signing_key(), self._clock, self.delay, self.finished

        class Slow:
            published = key.published

            async def sign(self, data: bytes) -> bytes:
                clock.now += delay
                signature = bytes(await key.sign(data))
                finished.append(clock.now)
                return signature
        return Slow()


async def test_a_slow_root_never_shortens_the_publish_lead_and_is_learned(make) -> None:  # type: ignore[no-untyped-def]
    clock, backend, first = await first_key_signing(make)
    slow = SlowRoot(backend.root, clock, delay=30)  # each attestation now takes 30 s
    backend.root = slow  # type: ignore[assignment]
    root = root_kid(backend)
    signers: list[tuple[float, str]] = []
    while len(backend.own) < 3 or backend.own[2].activated_at is None:
        clock.now += 1
        await backend.tick()
        signers.append((clock.now, backend.signing_key().published.kid))
        assert clock.now < first.active_until + 2 * TIMING.lifetime, "no third key took over"
    second, third = backend.own[1], backend.own[2]
    assert len(slow.finished) == 2  # one attestation each
    for key, attested_at in zip((second, third), slow.finished, strict=True):
        # Its lead counts from when it reached Redis, after the slow Sign, never from the
        # start of the pass that asked for it (that would cut the lead by the Sign's 30 s).
        assert key.visible_since is not None and key.visible_since >= attested_at
        assert key.activated_at is not None
        assert key.activated_at - attested_at >= TIMING.publish_lead
    # The first slow Sign came with one tick of margin: the root covered the gap (as the
    # docs/delegated-signing.md says), and the manager learned the Sign's time...
    gap = [at for at, kid in signers if kid == root and first.active_until <= at < second.activated_at]
    assert gap
    # ...so the next successor was attested early enough: no root signing at that roll-over.
    assert second.active_until is not None and third.activated_at <= second.active_until
    assert not [at for at, kid in signers if kid == root and at >= second.activated_at]


async def test_one_freak_slow_attestation_costs_at_most_half_a_lifetime(make) -> None:  # type: ignore[no-untyped-def]
    clock, backend, first = await first_key_signing(make)
    backend._last_creation_seconds = 10 * TIMING.lifetime  # one Sign that took hours
    clock.now = first.active_until - TIMING.publish_lead - TIMING.tick - TIMING.lifetime / 2 - 1
    await backend.tick()
    assert len(backend.own) == 1  # not yet: the margin is capped
    clock.now += 1
    await backend.tick()
    assert len(backend.own) == 2
