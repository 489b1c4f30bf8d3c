"""Failed-auth throttling over real HTTP: shared through real Redis by two issuer processes,
and in process memory when Redis goes away (a private redis-server, stopped mid-test)."""

from __future__ import annotations

import uuid
from pathlib import Path

import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.processes import start_issuer, start_redis
from tests.support.tokens import add_client, assertion, assertion_form, audit_lines, post_token

CC = {"grant_type": "client_credentials"}
ISSUER = "https://signet.example"


def _registry(tmp_path: Path) -> tuple[dict[str, str], str]:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}
    return env, add_client(env, "t", "--scope", "read", "--audience", "https://api") or ""


def test_wrong_secrets_are_throttled_across_replicas_through_redis(redis_url: str, tmp_path: Path) -> None:
    env, secret = _registry(tmp_path)
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "k.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    add_client(env, "k", "--scope", "read", "--audience", "https://api",
               "--jwks-file", str(tmp_path / "k.pem"))
    prefix = f"signet-test-{uuid.uuid4().hex}:"
    # Two replicas of one issuer: the same issuer URL, the same Redis.
    shared = {**env, "SIGNET_ISSUER": ISSUER, "SIGNET_REDIS_URL": redis_url, "SIGNET_REDIS_PREFIX": prefix,
              "SIGNET_AUTH_FAILURES_PER_CLIENT": "3", "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000",
              "SIGNET_AUTH_FAILURE_WINDOW_SECONDS": "3600"}
    a, base_a = start_issuer(shared, wait=False)
    b, base_b = start_issuer(shared, wait=False)
    try:
        a.wait_http(base_a + "/healthz")
        b.wait_http(base_b + "/healthz")
        assert post_token(base_a, CC, auth=("t", secret)).status_code == 200  # A has verified it once
        for base in (base_a, base_a, base_b):
            assert post_token(base, CC, auth=("t", "wrong")).status_code == 401
        throttled = post_token(base_b, CC, auth=("t", secret))  # the right secret, not yet verified on B
        assert throttled.status_code == 429
        assert throttled.json()["error"] == "temporarily_unavailable"
        assert 0 < int(throttled.headers["retry-after"]) <= 3600
        assert throttled.headers["cache-control"] == "no-store"
        assert post_token(base_a, CC, auth=("t", "wrong")).status_code == 429  # A sees B's count too
        # A verified the real secret before the attack: its cache lets the owner through.
        assert post_token(base_a, CC, auth=("t", secret)).status_code == 200
        counters = redis.Redis.from_url(redis_url).keys(prefix + "authfail:client:*")
        assert len(counters) == 1
        # A client assertion accepted by A is a replay at B: the jti record is shared too.
        signed = assertion(key, "ES384", "k", ISSUER + "/token")
        assert post_token(base_a, assertion_form(signed)).status_code == 200
        replayed = post_token(base_b, assertion_form(signed))
        assert replayed.status_code == 401 and "replay" in replayed.json()["error_description"]
        refused = audit_lines(b, "token_refused")
        assert [(r["status"], r["client_id"]) for r in refused] == [(401, "t"), (429, "t"), (401, "k")]
    finally:
        a.stop()
        b.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)


def test_throttling_falls_back_to_memory_when_redis_is_gone(tmp_path: Path) -> None:
    env, secret = _registry(tmp_path)
    private_redis, url = start_redis()
    issuer, base = start_issuer({**env, "SIGNET_REDIS_URL": url, "SIGNET_AUTH_FAILURES_PER_CLIENT": "2",
                                 "SIGNET_AUTH_FAILURES_PER_ADDRESS": "5"})
    try:
        private_redis.stop()
        assert post_token(base, CC, auth=("t", secret)).status_code == 200  # issuing needs no Redis
        assert [post_token(base, CC, auth=("t", "wrong")).status_code for _ in range(3)] == [401, 401, 429]
        # Per address: 2 failures so far; 3 more with made-up ids reach the limit of 5.
        statuses = [post_token(base, CC, auth=(f"u{i}", "wrong")).status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
        output = issuer.output()
        assert "redis unavailable" in output and "Traceback" not in output
    finally:
        issuer.stop()
        private_redis.stop()


async def _flood(base: str, auth: tuple[str, str], count: int,
                 distinct: bool = True) -> list[tuple[int, str | None]]:
    """`count` concurrent token requests from 127.0.0.1: (status, Retry-After) each. Each
    request's secret differs (a suffix), as an attacker's guesses do, unless not `distinct`."""
    import asyncio

    import httpx

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(*(
            client.post("/token", data=CC, auth=(auth[0], auth[1] + (f"-{i}" if distinct else "")))
            for i in range(count)))
    return [(r.status_code, r.headers.get("retry-after")) for r in responses]


def test_concurrent_wrong_secrets_cannot_outrun_the_per_client_limit(tmp_path: Path) -> None:
    """Reserve before checking: 30 concurrent wrong secrets with a per-client limit of 3 get
    exactly 3 secret checks (401) and 27 refusals (429), in memory and through Redis."""
    import asyncio

    env, _ = _registry(tmp_path)
    private_redis, url = start_redis()
    for extra in ({}, {"SIGNET_REDIS_URL": url}):
        issuer, base = start_issuer({**env, **extra, "SIGNET_AUTH_FAILURES_PER_CLIENT": "3",
                                     "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000"})
        try:
            statuses = [status for status, _ in asyncio.run(_flood(base, ("t", "wrong"), 30))]
            assert (statuses.count(401), statuses.count(429)) == (3, 27), (extra, sorted(statuses))
        finally:
            issuer.stop()
    private_redis.stop()


def test_a_guess_flood_does_not_queue_a_correct_secret_behind_it(tmp_path: Path) -> None:
    """150 concurrent guesses from one address (default limit 50 per address) once got a full
    argon2 check each, and a correct secret from elsewhere waited behind all of them. Now at
    most the per-address limit is checked, the rest are refused at once with Retry-After,
    and the correct secret (from 127.0.0.2) is answered 200 while the flood runs."""
    import asyncio
    import time

    import httpx

    env, secret = _registry(tmp_path)
    issuer, base = start_issuer(env)

    async def scenario() -> tuple[list[tuple[int, str | None]], int, float, float]:
        flood = asyncio.create_task(_flood(base, ("nobody", "guess"), 150))
        await asyncio.sleep(0.3)  # the flood is in
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120) as client:
            started = time.monotonic()
            legit = await client.post("/token", data=CC, auth=("t", secret))
            legit_seconds = time.monotonic() - started
        results = await flood
        return results, legit.status_code, legit_seconds, time.monotonic() - started

    try:
        results, legit_status, legit_seconds, flood_seconds = asyncio.run(scenario())
    finally:
        issuer.stop()
    statuses = [status for status, _ in results]
    print(f"correct secret answered in {legit_seconds:.2f} s; flood of 150 done {flood_seconds:.2f} s"
          f" after it started; {statuses.count(401)} guesses checked")
    assert legit_status == 200
    assert statuses.count(401) <= 50, sorted(statuses)  # never more checks than the limit
    assert set(statuses) <= {401, 429, 503}, sorted(statuses)
    assert all(retry for status, retry in results if status in (429, 503))


def test_a_client_starting_many_replicas_at_once_is_not_refused(tmp_path: Path) -> None:
    """Twelve requests with the same correct secret, at once, from one address, to an issuer
    that has not verified it yet (a deployment's replicas starting together): all get a
    token. Identical checks share one argon2 run, so the admission bounds meant for guess
    floods (four checks per address) do not turn a fleet's start-up into 503s."""
    import asyncio

    env, secret = _registry(tmp_path)
    issuer, base = start_issuer(env)
    try:
        statuses = [status for status, _ in asyncio.run(_flood(base, ("t", secret), 12, distinct=False))]
        assert statuses == [200] * 12, sorted(statuses)
        assert len(audit_lines(issuer, "token_issued")) == 12
    finally:
        issuer.stop()


async def _guesses(base: str, addresses: list[str], per_address: int) -> list[int]:
    """Wrong secrets for made-up client ids, `per_address` at once from each address."""
    import asyncio
    import secrets as random_secrets

    import httpx

    async def from_address(address: str) -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120,
                                     limits=httpx.Limits(max_connections=per_address)) as client:
            responses = await asyncio.gather(*(
                client.post("/token", data=CC, auth=(f"guess-{random_secrets.token_hex(6)}", "wrong"))
                for _ in range(per_address)))
        return [r.status_code for r in responses]

    results = await asyncio.gather(*(from_address(a) for a in addresses))
    return [status for statuses in results for status in statuses]


def test_a_distributed_guess_flood_does_not_starve_registered_clients(tmp_path: Path) -> None:
    """Guesses from 8 addresses at once fill the shared argon2 admission (16 checks, 4 per
    address), so most of them get 503. Registered clients that have not failed themselves,
    each asking for its first token (nothing cached), go in their own lane and ahead of the
    queue: every one gets 200 while the flood runs."""
    import asyncio

    import httpx

    env, _ = _registry(tmp_path)
    secrets_of = {name: add_client(env, name, "--scope", "read", "--audience", "https://api") or ""
                  for name in ("c1", "c2", "c3", "c4")}
    issuer, base = start_issuer({**env, "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000"})
    flood_from = [f"127.0.0.{n}" for n in range(2, 10)]

    async def scenario() -> tuple[list[int], list[int]]:
        flood = asyncio.create_task(_guesses(base, flood_from, 30))
        await asyncio.sleep(0.3)  # the flood is in
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.20")
        async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120) as client:
            legit = await asyncio.gather(*(client.post("/token", data=CC, auth=(name, secret))
                                           for name, secret in secrets_of.items()))
        return [r.status_code for r in legit], await flood

    try:
        legit, flood = asyncio.run(scenario())
    finally:
        issuer.stop()
    print(f"flood: {flood.count(401)} checked, {flood.count(503)} refused at admission")
    assert flood.count(503) > 0  # the shared admission was full: the lane mattered
    assert legit == [200] * 4, legit


def test_guesses_behind_one_address_do_not_lock_out_its_other_clients(tmp_path: Path) -> None:
    """Behind a proxy every caller has the proxy's address. Failures past the per-address limit
    there must not lock out the registered clients that have not failed themselves; made-up
    ids refused at the address leave no counter behind (in Redis, and in memory without it)."""
    env, secret = _registry(tmp_path)
    private_redis, url = start_redis()
    prefix = f"signet-test-{uuid.uuid4().hex}:"
    try:
        for extra in ({"SIGNET_REDIS_URL": url, "SIGNET_REDIS_PREFIX": prefix}, {}):
            issuer, base = start_issuer({**env, **extra, "SIGNET_AUTH_FAILURES_PER_ADDRESS": "5"})
            try:
                statuses = [post_token(base, CC, auth=(f"made-up-{n}", "wrong")).status_code
                            for n in range(12)]
                assert statuses == [401] * 5 + [429] * 7, statuses
                assert post_token(base, CC, auth=("t", secret)).status_code == 200  # a clean client
                if extra:
                    client_counters = redis.Redis.from_url(url).keys(prefix + "authfail:client:*")
                    assert len(client_counters) == 5  # the checked guesses only
                assert post_token(base, CC, auth=("unknown-one", "wrong")).status_code == 429
            finally:
                issuer.stop()
    finally:
        private_redis.stop()
