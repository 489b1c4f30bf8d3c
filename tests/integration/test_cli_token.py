"""`signet token` against a running issuer: the secret from an environment variable, a
file or standard input (argv still works, with a warning), private_key_jwt with
--key-file; exit codes 0 (token), 1 (refused or unreachable), 2 (usage). And `serve` on a
port in use exits 2 like every other start-up failure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.processes import NO_METADATA, ROOT, RunningIssuer, free_port
from tests.support.tokens import add_client, run_cli, verify_access_token

API = "api://orders"
REFUSED = "signet: error: token request failed (401 invalid_client)"


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer], tmp_path_factory: pytest.TempPathFactory
           ) -> RunningIssuer:
    running = make_issuer(clients={"svc": ("--scope", "read", "--audience", API)})
    tmp = tmp_path_factory.mktemp("client-keys")
    ec_key, rsa_key = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)
    _pem(ec_key, tmp / "ec.pem")
    _pem(rsa_key, tmp / "rsa.pem")
    _pem(ec.generate_private_key(ec.SECP256R1()), tmp / "other.pem")
    add_client(running.env, "ec-jwt", "--scope", "read", "--audience", API,
               "--jwks-file", str(_public_pem(ec_key, tmp / "ec.pub")))
    add_client(running.env, "rsa-jwt", "--scope", "read", "--audience", API, "--key-alg", "PS256",
               "--jwks-file", str(_public_pem(rsa_key, tmp / "rsa.pub")))
    running.secrets["keys"] = str(tmp)
    return running


def _token(issuer: RunningIssuer, *args: str, stdin: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "token", "--issuer", issuer.base, *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **NO_METADATA, **issuer.env, **(env or {})}, check=False)


def _issued(done: subprocess.CompletedProcess[str], issuer: RunningIssuer, client_id: str) -> None:
    assert done.returncode == 0, done.stderr
    claims = verify_access_token(issuer.base, json.loads(done.stdout)["access_token"], API)
    assert claims["client_id"] == client_id


def test_the_secret_comes_from_the_environment_a_file_or_stdin(issuer: RunningIssuer,
                                                               tmp_path: Path) -> None:
    secret = issuer.secrets["svc"]
    (tmp_path / "secret").write_text(secret + "\n")
    for args, stdin, env in (
            (["--client-secret-env", "SVC_SECRET"], None, {"SVC_SECRET": secret}),
            (["--client-secret-file", str(tmp_path / "secret")], None, None),
            (["--client-secret-file", "-"], secret + "\n", None)):
        done = _token(issuer, "--client-id", "svc", *args, stdin=stdin, env=env)
        _issued(done, issuer, "svc")
        assert done.stderr == ""
    argv = _token(issuer, "--client-id", "svc", "--client-secret", secret)
    _issued(argv, issuer, "svc")
    assert argv.stderr.startswith("signet: warning: --client-secret puts the secret in `ps`")


@pytest.mark.parametrize(("client_id", "key", "extra"), [
    ("ec-jwt", "ec.pem", []), ("rsa-jwt", "rsa.pem", ["--key-alg", "PS256"])])
def test_private_key_jwt_with_a_key_file(issuer: RunningIssuer, client_id: str, key: str,
                                         extra: list[str]) -> None:
    keys = Path(issuer.secrets["keys"])
    _issued(_token(issuer, "--client-id", client_id, "--key-file", str(keys / key), *extra),
            issuer, client_id)


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--client-id", "svc"], 2, "signet: error: give the client secret once"),
    (["--client-id", "svc", "--client-secret-env", "NOWHERE_SET"], 2,
     "signet: error: --client-secret-env NOWHERE_SET: no such environment variable"),
    (["--client-id", "svc", "--client-secret-file", "/nonexistent/secret"], 2,
     "signet: error: --client-secret-file /nonexistent/secret: No such file or directory"),
    (["--client-id", "svc", "--client-secret-env", "WRONG"], 1, REFUSED),
    (["--client-id", "rsa-jwt", "--key-file", "{keys}/rsa.pem"], 2,
     "signet: error: --key-file {keys}/rsa.pem: name the key's algorithm with --key-alg"),
    (["--client-id", "ec-jwt", "--key-file", "{keys}/other.pem"], 1, REFUSED),
    (["--client-id", "ec-jwt", "--key-file", "{keys}/ec.pub"], 2,
     "signet: error: --key-file {keys}/ec.pub: not an unencrypted PEM private key"),
])
def test_errors_name_the_problem_with_the_right_exit_code(issuer: RunningIssuer, args: list[str],
                                                          status: int, message: str) -> None:
    keys = issuer.secrets["keys"]
    done = _token(issuer, *(a.format(keys=keys) for a in args), env={"WRONG": "not-the-secret"})
    assert done.returncode == status, done.stderr
    assert done.stderr.startswith(message.format(keys=keys)), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert issuer.secrets["svc"] not in done.stderr


def test_an_unreachable_issuer_is_a_failure_not_a_usage_error(issuer: RunningIssuer) -> None:
    done = subprocess.run([sys.executable, "-m", "app", "token", "--issuer", f"http://127.0.0.1:{free_port()}",
                           "--client-id", "svc", "--client-secret-env", "S"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, **NO_METADATA, **issuer.env, "S": "x"})
    assert done.returncode == 1 and "signet: error: cannot reach http://127.0.0.1:" in done.stderr


def test_serve_on_a_busy_port_exits_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli({"SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), "SIGNET_HOST": "127.0.0.1",
                        "SIGNET_PORT": str(port), "SIGNET_CLIENTS_FILE": str(tmp_path / "c.yaml")},
                       "serve", check=False)
    assert done.returncode == 2, done.stderr
    assert "address already in use" in done.stderr.lower()
