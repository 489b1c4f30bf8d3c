"""Redis failures seen from the issuer and from verifiers, over HTTP against uvicorn.

Real: redis-server processes (killed with SIGKILL by pid, restarted empty on the same
port), the issuer and two demo services (app.demo, the verifier middleware) as uvicorn
subprocesses. Injected: latency, through tests/support/tcp_proxy.py, a TCP proxy on
loopback between every service and Redis.

What degrades while Redis is away (see docs/operations.md): the issuer keeps issuing,
with throttling counters and replay records per process; verifiers keep verifying from
process memory and write the JWKS entry back once Redis returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signet.channels import ISSUER_KEYS_CHANGED
from tests.support.processes import Service, start_demo, start_issuer
from tests.support.redis_servers import RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import add_client, post_token, verify_access_token
from tests.support.waiting import eventually

AUDIENCE = "api://demo"
CC = {"grant_type": "client_credentials"}
PREFIX = "rf:"



def local_issuer(tmp_path: Path) -> dict[str, str]:
    return {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
            "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys")}


def whoami(demo: str, token: str) -> httpx.Response:
    return httpx.get(demo + "/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def redis_behind_proxy() -> Iterator[tuple[RedisServer, TcpProxy]]:
    """A redis-server we own (not started yet) and a latency proxy in front of it."""
    server = RedisServer()
    proxy = TcpProxy(server.port)
    yield server, proxy
    proxy.close()
    server.stop()


def test_issuer_keeps_issuing_through_redis_down_killed_slow_and_restarted(
        tmp_path: Path, redis_behind_proxy: tuple[RedisServer, TcpProxy]) -> None:
    server, proxy = redis_behind_proxy
    url = f"redis://127.0.0.1:{proxy.port}/0"
    env = {**local_issuer(tmp_path), "SIGNET_REDIS_URL": url, "SIGNET_REDIS_PREFIX": PREFIX,
           "SIGNET_AUTH_FAILURES_PER_CLIENT": "10000", "SIGNET_AUTH_FAILURES_PER_ADDRESS": "10000"}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    issuer: Service
    issuer, base = start_issuer(env)  # Redis is down at start-up

    def issues() -> None:
        response = post_token(base, CC, auth=("svc", secret))
        assert response.status_code == 200, response.text
        assert verify_access_token(base, response.json()["access_token"], AUDIENCE)["sub"] == "svc"

    def failures_reach_redis() -> bool:
        assert post_token(base, CC, auth=("svc", "wrong")).status_code == 401
        return bool(server.client().keys(PREFIX + "authfail:*"))

    try:
        issues()
        assert httpx.get(base + "/readyz").status_code == 200  # Redis is not needed to be ready
        assert "redis unavailable" in issuer.output()

        server.start()  # Redis comes up: shared counters again (after the issuer's pause)
        assert eventually(failures_reach_redis)
        issues()

        server.kill()  # killed mid-run
        issues()
        assert post_token(base, CC, auth=("svc", "wrong")).status_code == 401  # counted in memory
        issues()

        server.start()  # restarted empty
        assert eventually(failures_reach_redis)

        proxy.delay = 2.0  # slower than the issuer's Redis timeout: it gives up, memory takes over
        issues()
        proxy.delay = 0.0
        assert "Traceback" not in issuer.output()
    finally:
        issuer.stop()


def test_verifiers_keep_verifying_and_refill_redis(
        tmp_path: Path, redis_behind_proxy: tuple[RedisServer, TcpProxy]) -> None:
    server, proxy = redis_behind_proxy
    env = {**local_issuer(tmp_path), "SIGNET_JWKS_MAX_AGE": "1"}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    other = add_client(env, "other", "--scope", "read", "--audience", "api://other") or ""
    issuer, base = start_issuer(env)
    verifier_env = {"SIGNET_VERIFIER_ISSUER": base, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
                    "SIGNET_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0",
                    "SIGNET_VERIFIER_REDIS_PREFIX": PREFIX, "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "1",
                    "SIGNET_VERIFIER_HTTP_TIMEOUT_SECONDS": "1"}
    demos = [start_demo(verifier_env) for _ in range(2)]  # Redis is down at their start-up
    entry = f"{PREFIX}jwks:{base}"

    def token(client: str = "svc", client_secret: str = secret) -> str:
        response = post_token(base, CC, auth=(client, client_secret))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def all_answer_right() -> None:
        valid, tampered = token(), token()
        tampered = tampered[:-4] + ("AAAA" if not tampered.endswith("AAAA") else "BBBB")
        for _, demo in demos:
            assert whoami(demo, valid).status_code == 200
            for bad in (tampered, token("other", other)):
                refused = whoami(demo, bad)
                assert refused.status_code == 401, refused.text

    try:
        all_answer_right()

        server.start()
        assert eventually(lambda: server.client().get(entry) is not None)  # filled when Redis came
        all_answer_right()

        server.kill()
        all_answer_right()  # keys in process memory: Redis not needed on the request path

        server.start()  # empty: whatever is there now, a verifier wrote
        assert eventually(lambda: server.client().get(entry) is not None)  # refilled
        all_answer_right()

        def announcements(demo: str) -> int:
            return int(httpx.get(demo + "/readyz").json()["stats"]["issuer_announcements"])

        def all_hear_announcements(before: list[int]) -> bool:
            server.client().publish(ISSUER_KEYS_CHANGED, base.encode())  # as the issuer on rotation
            return all(announcements(demo) > seen for (_, demo), seen in zip(demos, before, strict=True))

        before = [announcements(demo) for _, demo in demos]
        assert eventually(lambda: all_hear_announcements(before))  # pub/sub listeners resubscribed

        proxy.delay = 3.0  # slower than the verifiers' Redis timeout
        all_answer_right()
        proxy.delay = 0.0
        for service, _ in demos:
            assert "Traceback" not in service.output()
    finally:
        for service, _ in demos:
            service.stop()
        issuer.stop()
