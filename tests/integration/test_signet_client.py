"""signet.client.SignetAuth against a real issuer and a real resource server (both uvicorn
on loopback). Token requests are counted at the issuer, from its audit lines."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from signet.client import SignetAuth, TokenRequestError
from tests.support import resource_server
from tests.support.processes import ROOT, Service, start_issuer
from tests.support.tokens import add_client, audit_lines

AUDIENCE = "https://resource.test"


@dataclass
class Setup:
    issuer: Service
    base: str
    secret: str
    resource: str

    def auth(self, **kwargs: object) -> SignetAuth:
        return SignetAuth(self.base + "/token", "caller", self.secret, audience=AUDIENCE, **kwargs)  # type: ignore[arg-type]

    def issued(self) -> int:
        """Tokens the issuer has issued to `caller` so far: the count that matters."""
        return len([x for x in audit_lines(self.issuer, "token_issued") if x["client_id"] == "caller"])

    def control(self, action: str) -> int:
        return int(httpx.post(f"{self.resource}/control/{action}").json()["hits"])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("client")
    env = {"SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys")}
    secret = add_client(env, "caller", "--scope", "read", "--audience", AUDIENCE) or ""
    issuer, base = start_issuer(env)
    resource, resource_base = resource_server.start(base, AUDIENCE)
    yield Setup(issuer, base, secret, resource_base)
    resource.stop()
    issuer.stop()


async def test_fifty_concurrent_async_calls_make_one_token_request(setup: Setup) -> None:
    before = setup.issued()
    auth = setup.auth()
    async with httpx.AsyncClient(base_url=setup.resource, auth=auth, timeout=30) as http:
        responses = await asyncio.gather(*(http.get("/hello") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.json()["jti"] for r in responses}) == 1
    assert setup.issued() - before == 1
    assert auth.token_requests == 1


def test_twenty_threads_make_one_token_request(setup: Setup) -> None:
    before = setup.issued()
    auth = setup.auth(method="client_secret_post")
    with httpx.Client(base_url=setup.resource, auth=auth, timeout=30) as http, ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: http.get("/hello"), range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert setup.issued() - before == 1


class FakeClock:
    """Injected clock: the test moves time instead of waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_refresh_ahead_of_expiry_is_one_request_and_nobody_waits(setup: Setup) -> None:
    clock = FakeClock()
    auth = setup.auth(clock=clock, refresh_margin=60)  # tokens live 300 s: refresh from 240 s
    before = setup.issued()
    async with httpx.AsyncClient(base_url=setup.resource, auth=auth, timeout=30) as http:
        first = (await http.get("/hello")).json()["jti"]
        clock.now += 200  # fresh still: no request
        assert (await http.get("/hello")).json()["jti"] == first
        clock.now += 50  # inside the refresh margin, still valid
        responses = await asyncio.gather(*(http.get("/hello") for _ in range(50)))
        assert all(r.status_code == 200 for r in responses)
        jtis = {r.json()["jti"] for r in responses}
        assert first in jtis and len(jtis) == 2  # callers kept the old token during the one refresh
        assert setup.issued() - before == 2
        clock.now += 400  # the refreshed token has expired too: everyone waits for one request
        responses = await asyncio.gather(*(http.get("/hello") for _ in range(50)))
        assert all(r.status_code == 200 for r in responses)
        assert len({r.json()["jti"] for r in responses}) == 1
    assert setup.issued() - before == 3 == auth.token_requests


async def test_one_retry_with_a_new_token_after_a_401(setup: Setup) -> None:
    auth = setup.auth()
    before = setup.issued()
    async with httpx.AsyncClient(base_url=setup.resource, auth=auth, timeout=30) as http:
        first = await http.post("/hello", content=b"payload")
        assert first.status_code == 200
        hits = setup.control("reject-last")
        again = await http.post("/hello", content=b"payload")
        assert again.status_code == 200 and again.json()["body"] == "payload"  # body re-sent
        assert again.json()["jti"] != first.json()["jti"]
        assert setup.control("reject-all") - hits == 2
        try:
            hits = setup.control("reject-all")
            refused = await http.get("/hello")
            assert refused.status_code == 401  # retried once, then the 401 is the caller's
            assert setup.control("accept-all") - hits == 2
        finally:
            setup.control("accept-all")
    assert setup.issued() - before == 3


def test_sync_retry_and_errors(setup: Setup) -> None:
    with httpx.Client(base_url=setup.resource, auth=setup.auth(), timeout=30) as http:
        assert http.get("/hello").status_code == 200
        setup.control("reject-last")
        assert http.get("/hello").status_code == 200
    bad = SignetAuth(setup.base + "/token", "caller", "wrong", audience=AUDIENCE)
    with httpx.Client(base_url=setup.resource, auth=bad, timeout=30) as http, \
            pytest.raises(TokenRequestError) as caught:
        http.get("/hello")
    assert caught.value.error == "invalid_client" and caught.value.status == 401


def test_imports_with_the_verifier_extra_only() -> None:
    """No fastapi, pydantic, PyJWT, argon2, boto or the issuer app: a caller has httpx only."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'fastapi', 'starlette', 'pydantic', 'pydantic_settings',\n"
        "                'jwt', 'argon2', 'yaml', 'boto3', 'botocore', 'aioboto3', 'uvicorn', 'app'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from signet.client import SignetAuth\n"
        "SignetAuth('http://127.0.0.1:1/token', 'a', 'b')\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
