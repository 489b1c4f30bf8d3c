"""The verifier's key cache against real parts: Redis (6379, or a redis-server a test starts
and kills), real issuers under uvicorn, verifiers in separate processes.

Issuers publish three key sets from one pair of keys: A, A+B and B. Verifiers fetch the
JWKS through a counting proxy on loopback (tests/support/counting_proxy.py), so every
assertion about "how many fetches" counts real HTTP requests that reached an issuer.
The tokens' `iss` is a fixed name; the verifiers are given the JWKS URL explicitly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from signet.algorithms import ALGORITHMS
from signet.jwk import public_key_to_jwk
from signet.keys.local import LocalSigningKey, generate_private_key, write_private_key
from signet.verifier import SignetError, Verifier
from signet.verifier.stats import VerifierStats
from signet.verifier.store import RedisJwksStore, StoredJwks
from tests.support.counting_proxy import CountingProxy
from tests.support.processes import start_issuer, start_redis
from tests.support.verifier_tokens import AUDIENCE, access_claims, make_token, open_key, sign_claims
from tests.support.verifier_worker import Worker

ISSUER = "https://signet.test"
JWKS = "/.well-known/jwks.json"
INTEGRITY_KEY = "integrity-key-for-tests-0123456789"


@dataclass
class Keys:
    a: LocalSigningKey
    b: LocalSigningKey
    dirs: dict[str, Path]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    dirs = {name: tmp_path_factory.mktemp(f"keys-{name}") for name in ("a", "b", "ab")}
    a = asyncio.run(open_key(dirs["a"]))
    write_private_key(dirs["b"] / "ES256-b.pem", generate_private_key(ALGORITHMS["ES256"]))
    b = asyncio.run(open_key(dirs["b"]))
    for key in (a, b):
        shutil.copy2(key.path, dirs["ab"] / key.path.name)
    return Keys(a, b, dirs)


@pytest.fixture(scope="module")
def issuers(keys: Keys) -> Iterator[dict[str, str]]:
    """Three real issuers (started together): key sets A, A+B and B."""
    started = {name: start_issuer({"SIGNET_LOCAL_KEY_DIR": str(path)}, wait=False)
               for name, path in keys.dirs.items()}
    for service, base in started.values():
        service.wait_http(base + "/healthz")
    yield {name: base for name, (_, base) in started.items()}
    for service, _ in started.values():
        service.stop()


@pytest.fixture
def proxy(issuers: dict[str, str]) -> Iterator[CountingProxy]:
    proxy = CountingProxy(issuers["a"])
    yield proxy
    proxy.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test alone, deleted afterwards."""
    prefix = f"signet-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for name in client.scan_iter(match=prefix + "*"):
        client.delete(name)


def options(proxy: CountingProxy, redis_url: str | None, prefix: str, **extra: Any) -> dict[str, Any]:
    return {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": proxy.url + JWKS,
            "redis_url": redis_url, "redis_prefix": prefix, **extra}


@pytest.fixture
async def verifiers() -> AsyncIterator[list[Verifier]]:
    """Verifiers a test creates, closed afterwards."""
    created: list[Verifier] = []
    yield created
    for verifier in created:
        await verifier.aclose()


async def started(created: list[Verifier], **opts: Any) -> Verifier:
    verifier = Verifier(**opts)
    created.append(verifier)
    await verifier.start()
    return verifier


async def code_of(verifier: Verifier, token: str) -> str:
    try:
        await verifier.verify(token)
    except SignetError as exc:
        return exc.code
    return "ok"


async def until(condition: Any, limit: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + limit
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


def test_two_processes_share_one_fetch(proxy: CountingProxy, redis_url: str, prefix: str,
                                       keys: Keys) -> None:
    """Two verifier processes start together: one fetches (holding the Redis lock), the
    other waits for its result in Redis. The issuer sees one JWKS request."""
    proxy.delay = 0.5  # the first fetch is slow, so the second instance finds the lock held
    workers = [Worker(**options(proxy, redis_url, prefix)) for _ in range(2)]
    try:
        for worker in workers:
            worker.send("start")
        stats = [worker.answer()["stats"] for worker in workers]
        assert proxy.count(JWKS) == 1
        assert sorted(s["jwks_fetches"] for s in stats) == [0, 1]
        follower = next(s for s in stats if s["jwks_fetches"] == 0)
        assert follower["redis_loads"] == 1
        token = sign_claims(keys.a, access_claims(ISSUER))
        for worker in workers:
            assert worker.ask(f"verify {token}")["sub"] == "client-1"
        assert proxy.count(JWKS) == 1
    finally:
        for worker in workers:
            worker.stop()


async def test_pubsub_reload_reaches_another_process(proxy: CountingProxy, issuers: dict[str, str],
                                                     redis_url: str, prefix: str, keys: Keys,
                                                     verifiers: list[Verifier]) -> None:
    """A key added at the issuer is fetched by one instance; the other process (whose cache
    would not expire for an hour) reloads from Redis on the pub/sub message, fetching nothing."""
    worker = Worker(**options(proxy, redis_url, prefix, min_cache_seconds=3600,
                              max_cache_seconds=3600))
    try:
        before = worker.ask("start")["stats"]
        verifier = await started(verifiers, **options(proxy, redis_url, prefix))
        assert proxy.count(JWKS) == 1 and verifier.stats.redis_loads == 1
        proxy.upstream = issuers["ab"]  # the issuer now publishes B as well
        token_b = sign_claims(keys.b, access_claims(ISSUER))
        assert (await verifier.verify(token_b))["sub"] == "client-1"  # unknown kid: one refetch
        assert proxy.count(JWKS) == 2

        async def worker_knows_b() -> bool:
            return keys.b.published.kid in worker.ask("kids")["kids"]

        await until(worker_knows_b)
        after = worker.ask(f"verify {token_b}")
        assert after["sub"] == "client-1"
        assert after["stats"]["pubsub_reloads"] == 1
        assert after["stats"]["jwks_fetches"] == before["jwks_fetches"]
        assert proxy.count(JWKS) == 2
    finally:
        worker.stop()


def _attacker_entry(issuer: str, prefix: str) -> tuple[str, bytes, Any]:
    """A JWKS entry naming an attacker's key, as someone with write access to Redis would
    plant it (with a made-up MAC), newer than the real one."""
    alg = ALGORITHMS["ES256"]
    private = generate_private_key(alg)
    jwk = public_key_to_jwk(private.public_key(), alg)
    document = json.dumps({"keys": [jwk]})
    entry = StoredJwks(issuer, document, time.time() + 60, 3600, None)
    payload = msgspec.json.encode(entry)
    return f"{prefix}jwks:{issuer}", b"signet-jwks-v1 " + b"0" * 64 + b" " + payload, (private, jwk)


async def test_forged_redis_entry_is_ignored_with_an_integrity_key(
        proxy: CountingProxy, redis_url: str, prefix: str, keys: Keys,
        verifiers: list[Verifier]) -> None:
    keyed = options(proxy, redis_url, prefix, cache_integrity_key=INTEGRITY_KEY)
    first = await started(verifiers, **keyed)
    assert proxy.count(JWKS) == 1
    name, forged, (attacker_key, attacker_jwk) = _attacker_entry(ISSUER, prefix)
    client = redis.Redis.from_url(redis_url)
    client.set(name, forged)
    client.publish(f"{prefix}jwks-changed", ISSUER)
    header = {"alg": "ES256", "kid": attacker_jwk["kid"], "typ": "at+jwt"}
    forged_token = make_token(None, access_claims(ISSUER), header=header, private_key=attacker_key,
                              alg=ALGORITHMS["ES256"])
    real_token = sign_claims(keys.a, access_claims(ISSUER))

    # Control: without the integrity key, a fresh instance trusts the planted entry. This is
    # the attack the MAC defends against (and shows the forged entry is otherwise usable).
    unkeyed = await started(verifiers, **options(proxy, redis_url, prefix))
    assert await code_of(unkeyed, forged_token) == "ok"
    assert proxy.count(JWKS) == 1

    async def first_saw_it() -> bool:
        return first.stats.integrity_failures >= 1

    await until(first_saw_it)  # the announcement made it read the entry: MAC refused, ignored
    assert first.known_kids(ISSUER) == {keys.a.published.kid}

    # A fresh keyed instance ignores the entry, refetches from the issuer, and repairs Redis.
    second = await started(verifiers, **keyed)
    assert second.stats.integrity_failures >= 1  # read before and after taking the lock
    assert proxy.count(JWKS) == 2
    assert attacker_jwk["kid"].encode() not in client.get(name)
    for verifier in (first, second):
        assert await code_of(verifier, forged_token) == "unknown_kid"
        assert await code_of(verifier, real_token) == "ok"


async def test_replayed_old_entries_never_bring_back_a_removed_key(
        proxy: CountingProxy, issuers: dict[str, str], redis_url: str, prefix: str, keys: Keys,
        verifiers: list[Verifier]) -> None:
    """An attacker with Redis write access (but not the integrity key) saved two genuine,
    correctly MAC'd entries from before key A was withdrawn. Holding the fetch lock, they swap
    the entry between the two while the verifier waits for "another instance": neither may
    bring key A back, nor drop the current key B."""
    proxy.upstream = issuers["ab"]
    verifier = await started(verifiers, **options(
        proxy, redis_url, prefix, cache_integrity_key=INTEGRITY_KEY, min_cache_seconds=1,
        max_cache_seconds=1, http_timeout_seconds=1))
    client = redis.Redis.from_url(redis_url)
    name = f"{prefix}jwks:{ISSUER}"
    kid_a, kid_b = keys.a.published.kid, keys.b.published.kid
    old_entries = [client.get(name)]

    async def rewritten() -> bool:
        return client.get(name) != old_entries[0]

    await until(rewritten)  # a scheduled refresh wrote a second genuine A+B entry
    old_entries.append(client.get(name))
    assert all(kid_a.encode() in entry for entry in old_entries)
    proxy.upstream = issuers["b"]  # key A is withdrawn

    async def withdrawn() -> bool:
        return verifier.known_kids(ISSUER) == {kid_b}

    await until(withdrawn)
    lock = f"{prefix}lock:{ISSUER}"
    seen: list[set[str]] = []
    deadline = time.monotonic() + 4.0
    swaps = 0
    while time.monotonic() < deadline:
        client.set(lock, b"attacker", px=2000)
        client.set(name, old_entries[swaps % 2])
        client.publish(f"{prefix}jwks-changed", ISSUER)
        swaps += 1
        seen.append(set(verifier.known_kids(ISSUER)))
        await asyncio.sleep(0.05)
    client.delete(lock)
    assert all(kids == {kid_b} for kids in seen), [kids for kids in seen if kids != {kid_b}][:3]
    assert verifier.stats.lock_waits >= 1  # the attack was set up: it waited behind the lock
    assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "unknown_kid"
    assert await code_of(verifier, sign_claims(keys.b, access_claims(ISSUER))) == "ok"


async def test_stale_or_overlong_redis_entries_are_refused(redis_url: str, prefix: str,
                                                           keys: Keys, proxy: CountingProxy,
                                                           issuers: dict[str, str],
                                                           verifiers: list[Verifier]) -> None:
    """Entries written with the integrity key (as a compromised instance could) that claim a
    fetch time far in the future or a lifetime beyond the policy are not applied: no Redis
    write extends a key's life past what the issuer published."""
    import redis.asyncio as aioredis

    proxy.upstream = issuers["a"]
    writer = aioredis.Redis.from_url(redis_url)
    store = RedisJwksStore(writer, prefix, INTEGRITY_KEY.encode(), VerifierStats())
    document = json.dumps({"keys": [keys.b.published.jwk]})
    try:
        await store.write(StoredJwks(ISSUER, document, time.time() + 3600, 60, None), 60)
        future = await started(verifiers, **options(proxy, redis_url, prefix,
                                                     cache_integrity_key=INTEGRITY_KEY))
        assert future.known_kids(ISSUER) == {keys.a.published.kid}  # from the issuer instead
        await store.write(StoredJwks(ISSUER, document, time.time(), 10**6, None), 60)
        overlong = await started(verifiers, **options(proxy, redis_url, prefix,
                                                      cache_integrity_key=INTEGRITY_KEY))
        assert overlong.known_kids(ISSUER) == {keys.a.published.kid}
        assert proxy.count(JWKS) == 2
    finally:
        await writer.aclose()


async def test_unusable_redis_document_falls_back_to_the_issuer(
        proxy: CountingProxy, redis_url: str, prefix: str, keys: Keys,
        verifiers: list[Verifier]) -> None:
    """A fresh entry whose document is no JWKS (written by someone, no integrity key set) is
    ignored: the keys come from the issuer, and the entry is replaced."""
    client = redis.Redis.from_url(redis_url)
    name = f"{prefix}jwks:{ISSUER}"
    client.set(name, b"signet-jwks-v1 - " + msgspec.json.encode(
        StoredJwks(ISSUER, "not a JWKS", time.time(), 3600, None)))
    verifier = await started(verifiers, **options(proxy, redis_url, prefix))
    assert proxy.count(JWKS) == 1
    assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "ok"
    assert keys.a.published.kid.encode() in client.get(name)


async def test_entry_moved_to_another_issuer_fails_its_mac(redis_url: str, prefix: str) -> None:
    """The MAC covers the entry's name, so a genuine entry of issuer X cannot serve issuer Y."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    stats = VerifierStats()
    store = RedisJwksStore(client, prefix, INTEGRITY_KEY.encode(), stats)
    try:
        await store.write(StoredJwks("https://x.test", '{"keys":[]}', time.time(), 60, None), 60)
        assert (await store.read("https://x.test")) is not None
        await client.set(store.entry_name("https://y.test"),
                         await client.get(store.entry_name("https://x.test")))
        assert await store.read("https://y.test") is None
        assert stats.integrity_failures == 1
    finally:
        await client.aclose()


async def test_redis_killed_mid_run_keeps_verifying(proxy: CountingProxy, issuers: dict[str, str],
                                                    prefix: str, keys: Keys,
                                                    verifiers: list[Verifier]) -> None:
    """Fault injection: a redis-server this test started is stopped (SIGTERM) mid-run.
    Verification continues from memory; a new key is then fetched over HTTP directly."""
    service, url = start_redis()
    try:
        verifier = await started(verifiers, **options(proxy, url, prefix, http_timeout_seconds=1))
        assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "ok"
        service.stop()
        for _ in range(20):
            assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "ok"
        proxy.upstream = issuers["ab"]
        assert await code_of(verifier, sign_claims(keys.b, access_claims(ISSUER))) == "ok"
        assert proxy.count(JWKS) == 2
        assert verifier.stats.redis_errors >= 1
    finally:
        service.stop()


async def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
        proxy: CountingProxy, redis_url: str, prefix: str, keys: Keys,
        verifiers: list[Verifier]) -> None:
    cooldown = 1.5
    verifier = await started(verifiers, **options(proxy, redis_url, prefix,
                                                  unknown_kid_cooldown_seconds=cooldown))
    assert proxy.count(JWKS) == 1

    def flood() -> list[str]:
        return [make_token(keys.a, access_claims(ISSUER), header={
            "alg": "ES256", "kid": secrets.token_urlsafe(12), "typ": "at+jwt"}) for _ in range(1000)]

    for _ in range(2):  # two floods, a cooldown apart
        tokens = flood()
        before, begun = proxy.count(JWKS), time.monotonic()
        codes = await asyncio.gather(*(code_of(verifier, t) for t in tokens))
        elapsed = time.monotonic() - begun
        assert set(codes) == {"unknown_kid"}
        refetches = proxy.count(JWKS) - before
        # One refetch, then none until the cooldown ends (a slow machine may span two windows).
        assert 1 <= refetches <= 1 + int(elapsed // cooldown), (refetches, elapsed)
        assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "ok"
        await asyncio.sleep(cooldown + 0.1)
    assert verifier.stats.unknown_kid_refetches == proxy.count(JWKS) - 1 >= 2
    assert verifier.stats.unknown_kid_cooldown >= 1990


async def test_issuer_stopped_stale_keys_then_refusal(keys: Keys, redis_url: str, prefix: str,
                                                      verifiers: list[Verifier],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Keys are fresh for 1 s and usable 2 s more when the issuer is unreachable."""
    service, base = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(keys.dirs["a"])})
    try:
        verifier = await started(verifiers, issuer=ISSUER, audience=AUDIENCE, jwks_url=base + JWKS,
                                 redis_url=redis_url, redis_prefix=prefix, min_cache_seconds=1,
                                 max_cache_seconds=1, max_staleness_seconds=2,
                                 http_timeout_seconds=0.5)
        status = verifier.key_status(ISSUER)
        first = sign_claims(keys.a, access_claims(ISSUER))
        assert await code_of(verifier, first) == "ok"
        service.stop()
        caplog.set_level(logging.WARNING, logger="signet.verifier")
        stale_successes, refusal, refused_at = 0, "", 0.0
        deadline = time.time() + 20
        while time.time() < deadline:
            code = await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER)))
            if code != "ok":
                refusal, refused_at = code, time.time()
                break
            if time.time() > status.fresh_until:
                stale_successes += 1
            await asyncio.sleep(0.1)
        assert refusal == "keys_unavailable"
        usable_until = status.fetched_at + 1 + 2
        assert usable_until - 0.5 <= refused_at <= usable_until + 3
        assert stale_successes >= 5
        assert verifier.stats.stale_if_error >= 1
        assert any("stale keys" in r.getMessage() for r in caplog.records)
        assert await code_of(verifier, first) == "keys_unavailable"  # the token cache obeys too
    finally:
        service.stop()


async def test_removed_key_leaves_every_cache(proxy: CountingProxy, issuers: dict[str, str],
                                              redis_url: str, prefix: str, keys: Keys,
                                              verifiers: list[Verifier]) -> None:
    proxy.upstream = issuers["ab"]
    verifier = await started(verifiers, **options(proxy, redis_url, prefix, min_cache_seconds=1,
                                                  max_cache_seconds=1))
    token_a = sign_claims(keys.a, access_claims(ISSUER))
    assert await code_of(verifier, token_a) == "ok" and verifier.is_cached(token_a)
    proxy.upstream = issuers["b"]  # key A is withdrawn
    removed_at = time.monotonic()

    async def refused() -> bool:
        return await code_of(verifier, token_a) == "unknown_kid"

    await until(refused)
    assert time.monotonic() - removed_at <= 1 * 1.05 + 2.0  # within one refresh (plus slack)
    assert not verifier.is_cached(token_a)
    assert keys.a.published.kid not in verifier.known_kids(ISSUER)
    entry = redis.Redis.from_url(redis_url).get(f"{prefix}jwks:{ISSUER}")
    assert entry is not None and keys.a.published.kid.encode() not in entry
    assert keys.b.published.kid.encode() in entry
    assert verifier.stats.keys_removed == 1
    assert await code_of(verifier, sign_claims(keys.b, access_claims(ISSUER))) == "ok"


async def test_refresh_revalidates_with_if_none_match(proxy: CountingProxy, redis_url: str,
                                                      prefix: str, verifiers: list[Verifier]) -> None:
    """The issuer says max-age=300; the verifier's 1 s maximum wins, and the refresh is a
    conditional request answered 304 by the real issuer."""
    verifier = await started(verifiers, **options(proxy, redis_url, prefix, min_cache_seconds=0.5,
                                                  max_cache_seconds=1))
    status = verifier.key_status(ISSUER)
    assert status.fresh_until - status.fetched_at == 1

    async def revalidated() -> bool:
        return verifier.stats.jwks_not_modified >= 1

    await until(revalidated)
    assert proxy.count(JWKS) >= 2
    assert verifier.key_status(ISSUER).fetched_at > status.fetched_at
    assert verifier.key_status(ISSUER).kids == status.kids


async def test_each_issuer_has_its_own_keys(issuers: dict[str, str], keys: Keys, redis_url: str,
                                            prefix: str, verifiers: list[Verifier]) -> None:
    """One verifier trusting two real issuers (found by OpenID discovery): a key of one
    issuer never verifies a token claiming the other, and Redis holds one entry each."""
    issuer_a, issuer_b = issuers["a"], issuers["b"]
    verifier = await started(verifiers, issuer=[issuer_a, issuer_b], audience=AUDIENCE,
                             redis_url=redis_url, redis_prefix=prefix)
    assert verifier.stats.discovery_fetches == 2
    assert await code_of(verifier, sign_claims(keys.a, access_claims(issuer_a))) == "ok"
    assert await code_of(verifier, sign_claims(keys.b, access_claims(issuer_b))) == "ok"
    assert await code_of(verifier, sign_claims(keys.a, access_claims(issuer_b))) == "unknown_kid"
    assert await code_of(verifier, sign_claims(keys.b, access_claims(issuer_a))) == "unknown_kid"
    assert await code_of(verifier, sign_claims(keys.a, access_claims(ISSUER))) == "wrong_issuer"
    client = redis.Redis.from_url(redis_url)
    entries = {name.decode() for name in client.scan_iter(match=f"{prefix}jwks:*")}
    assert entries == {f"{prefix}jwks:{issuer_a}", f"{prefix}jwks:{issuer_b}"}


async def test_a_discovery_document_cannot_send_verifiers_to_another_host(
        verifiers: list[Verifier]) -> None:
    """A compromised issuer's discovery document (served over real HTTP on loopback) names a
    jwks_uri on another host: the verifier refuses to follow it and says why."""
    import http.server
    import threading

    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"issuer": issuer, "jwks_uri": "https://elsewhere.example/jwks"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        verifier = await started(verifiers, issuer=issuer, audience=AUDIENCE)
        status = verifier.key_status(issuer)
        assert status.kids == frozenset()
        assert "discovery jwks_uri refused" in (status.refresh_error or ""), status.refresh_error
        assert "elsewhere.example" in (status.refresh_error or "")
    finally:
        server.shutdown()


async def test_a_cooldown_held_in_redis_cannot_hold_back_a_new_key(
        proxy: CountingProxy, issuers: dict[str, str], redis_url: str, prefix: str, keys: Keys,
        verifiers: list[Verifier]) -> None:
    """Whoever can write Redis sets the fleet's unknown-kid cooldown with no expiry (or a year's).
    After an emergency rotation the issuer publishes key B at once; B's tokens must still
    verify at once, not after a whole cache lifetime: a cooldown key no verifier could have
    written (its expiry missing or beyond the configured cooldown) is replaced and claimed."""
    client = redis.Redis.from_url(redis_url)
    for hold in ({}, {"ex": 365 * 86400}):
        proxy.upstream = issuers["a"]
        verifier = await started(verifiers, **options(proxy, redis_url, prefix,
                                                      unknown_kid_cooldown_seconds=5))
        token_b = sign_claims(keys.b, access_claims(ISSUER))
        client.set(f"{prefix}cooldown:{ISSUER}", b"1", **hold)  # type: ignore[arg-type]
        proxy.upstream = issuers["ab"]  # B published now
        assert await code_of(verifier, token_b) == "ok", hold
        assert 0 < client.pttl(f"{prefix}cooldown:{ISSUER}") <= 5000  # a verifier's own now
        await verifier.aclose()
        verifiers.remove(verifier)
        client.delete(f"{prefix}cooldown:{ISSUER}", f"{prefix}jwks:{ISSUER}")
