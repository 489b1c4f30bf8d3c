"""Secrets never reach the logs: a realistic run of the issuer (uvicorn with its access log,
SIGNET_LOG_LEVEL=debug) registers clients, issues tokens by all three authentication
methods, refuses bad ones (wrong secret, forged assertion, secret in the URL), and serves
admin calls. Then all of its output is searched for every client secret, the admin token,
every token and assertion signature, and the signing keys' private material."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.processes import MOTO_CREDENTIALS, Service, free_port
from tests.support.tokens import add_client, assertion, assertion_form, run_cli

ADMIN_TOKEN = "admin-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"
AUD = "https://api.logs.test"
CC = {"grant_type": "client_credentials"}


@dataclass
class Run:
    output: str
    secrets: dict[str, str] = field(default_factory=dict)  # what must never appear -> its name


def _b64url(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _private_material(key_dir: Path) -> dict[str, str]:
    """For each signing key: its JWK `d` and every base64 line of its PEM."""
    found: dict[str, str] = {}
    for pem_file in key_dir.glob("*.pem"):
        pem = pem_file.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        size = (key.curve.key_size + 7) // 8
        found[_b64url(key.private_numbers().private_value.to_bytes(size, "big"))] = f"d of {pem_file.name}"
        for line in pem.decode().splitlines():
            if not line.startswith("-----"):
                found[line] = f"PEM line of {pem_file.name}"
    assert found, "the issuer created no key"
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("logs")
    env = {"SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
           "SIGNET_LOG_LEVEL": "debug", "SIGNET_ADMIN_TOKEN": ADMIN_TOKEN,
           "SIGNET_ROTATION_PERIOD": "0"}
    secrets: dict[str, str] = {ADMIN_TOKEN: "admin token"}
    basic_secret = add_client(env, "basic", "--scope", "read", "--audience", AUD) or ""
    post_secret = add_client(env, "post", "--scope", "read", "--audience", AUD) or ""
    rotated = run_cli(env, "clients", "rotate-secret", "post", "--json").stdout
    old_post_secret, post_secret = post_secret, json.loads(rotated)["client_secret"]
    secrets.update({basic_secret: "basic secret", post_secret: "post secret",
                    old_post_secret: "rotated-out post secret"})
    client_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(client_key.public_key()))
    (tmp / "client.jwks").write_text(json.dumps({"keys": [{**jwk, "alg": "ES256", "kid": "k1"}]}))
    add_client(env, "keyed", "--scope", "read", "--audience", AUD, "--jwks-file", str(tmp / "client.jwks"))
    secrets[_b64url(client_key.private_numbers().private_value.to_bytes(32, "big"))] = "client key d"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = Service("issuer-logs", [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                                      "--port", str(port), "--log-level", "debug"],
                      {**MOTO_CREDENTIALS, **env, "SIGNET_ISSUER": base})
    try:
        service.wait_http(base + "/healthz")
        token_url = base + "/token"
        tokens = [
            httpx.post(token_url, data=CC, auth=("basic", basic_secret)),
            httpx.post(token_url, data={**CC, "client_id": "post", "client_secret": post_secret}),
            httpx.post(token_url, data=assertion_form(assertion(client_key, "ES256", "keyed", token_url,
                                                                kid="k1"))),
        ]
        assert [r.status_code for r in tokens] == [200, 200, 200], [r.text for r in tokens]
        for response in tokens:
            token = response.json()["access_token"]
            secrets[token.rsplit(".", 1)[1]] = "token signature"
            secrets[token] = "token"
        forged = assertion(ec.generate_private_key(ec.SECP256R1()), "ES256", "keyed", token_url, kid="k1")
        secrets[forged.rsplit(".", 1)[1]] = "forged assertion signature"
        refused = [
            httpx.post(token_url, data=CC, auth=("basic", post_secret)),  # another client's secret
            httpx.post(token_url, data={**CC, "client_id": "post", "client_secret": old_post_secret}),
            httpx.post(token_url, data=assertion_form(forged)),
            httpx.post(token_url, params={"client_id": "basic", "client_secret": basic_secret}, data=CC),
            httpx.post(token_url, data=CC, auth=("nobody", basic_secret)),
        ]
        assert [r.status_code for r in refused] == [401, 401, 401, 400, 401], [r.text for r in refused]
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.get(base + "/admin/keys", headers=admin).status_code == 200
        assert httpx.post(base + "/admin/keys/rotate", headers=admin).status_code == 200
        assert httpx.get(base + "/admin/keys", headers={"Authorization": f"Bearer {basic_secret}"}
                         ).status_code == 401
    finally:
        service.process.terminate()
        service.process.wait(30)
        output = service.output()
        service.stop()
    secrets.update(_private_material(tmp / "keys"))
    yield Run(output, secrets)


def test_the_run_was_logged(run: Run) -> None:
    """The search below means something only if the run logged what it did."""
    assert '"event": "token_issued"' in run.output and '"event": "token_refused"' in run.output
    assert "POST /token" in run.output and "/admin/keys/rotate" in run.output  # the access log
    access = [json.loads(line) for line in run.output.splitlines() if '"logger": "uvicorn.access"' in line]
    assert {"method": "POST", "path": "/token?<redacted>", "status": 400}.items() <= next(
        line for line in access if line["path"].startswith("/token?")).items()  # the secret in the URL


def test_no_secret_token_or_private_key_in_the_logs(run: Run) -> None:
    leaks = sorted({name for secret, name in run.secrets.items() if secret and secret in run.output})
    assert leaks == [], leaks
    assert "PRIVATE KEY" not in run.output
    assert '"d":' not in run.output.replace(" ", "")
