"""POST /token end to end: clients registered with the CLI, the issuer under uvicorn on
loopback, tokens checked with PyJWT against the served JWKS. No mocks."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.processes import Service, start_issuer
from tests.support.tokens import (
    add_client,
    assertion,
    assertion_form,
    audit_lines,
    post_token,
    run_cli,
    verify_access_token,
)

CC = {"grant_type": "client_credentials"}
API_ONE, API_TWO = "https://api.one", "https://api.two"


@dataclass
class World:
    base: str
    service: Service
    env: dict[str, str]
    clients_file: Path
    secrets: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Any] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    def basic(self, client_id: str = "svc") -> tuple[str, str]:
        return (client_id, self.secrets[client_id])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("token")
    clients_file = tmp / "clients.yaml"
    env = {"SIGNET_CLIENTS_FILE": str(clients_file), "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys")}
    secrets: dict[str, str] = {}
    keys: dict[str, Any] = {}
    secrets["svc"] = (
        add_client(
            env,
            "svc",
            "--scope",
            "read",
            "--scope",
            "write",
            "--scope",
            "admin",
            "--default-scope",
            "read",
            "--audience",
            API_ONE,
            "--audience",
            API_TWO,
            "--lifetime",
            "120",
        )
        or ""
    )
    secrets["off"] = add_client(env, "off", "--scope", "read", "--audience", API_ONE) or ""
    run_cli(env, "clients", "disable", "off")
    secrets["long"] = (
        add_client(env, "long", "--scope", "read", "--audience", API_ONE, "--lifetime", "3600") or ""
    )
    keys["ec-jwt"] = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["ec-jwt"].public_key()))
    (tmp / "ec.jwks").write_text(json.dumps({"keys": [{**jwk, "alg": "ES256", "kid": "ec-1"}]}))
    assert (
        add_client(
            env, "ec-jwt", "--scope", "read", "--audience", API_ONE, "--jwks-file", str(tmp / "ec.jwks")
        )
        is None
    )
    keys["rsa-jwt"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp / "rsa.pem").write_bytes(
        keys["rsa-jwt"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert (
        add_client(
            env,
            "rsa-jwt",
            "--scope",
            "read",
            "--audience",
            API_ONE,
            "--jwks-file",
            str(tmp / "rsa.pem"),
            "--key-alg",
            "PS256",
        )
        is None
    )
    # The issuer caps lifetimes at 600 s; the 3600 s client was registered under a wider cap.
    service, base = start_issuer(
        {
            **env,
            "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": "600",
            "SIGNET_AUTH_FAILURES_PER_CLIENT": "100000",
            "SIGNET_AUTH_FAILURES_PER_ADDRESS": "100000",
            "SIGNET_TOKEN_MAX_BODY_BYTES": "4096",
        }
    )
    yield World(base, service, env, clients_file, secrets, keys)
    service.stop()


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    return body


# -- issuing, one test per client authentication method -------------------------------------


def test_client_secret_basic_issues_an_rfc9068_token(world: World) -> None:
    body = _ok(post_token(world.base, CC, auth=world.basic()))
    assert body["expires_in"] == 120 and body["scope"] == "read"
    claims = verify_access_token(world.base, body["access_token"], API_ONE)
    assert claims["sub"] == claims["client_id"] == "svc"
    assert claims["aud"] == API_ONE  # the first audience is the default
    assert claims["exp"] - claims["iat"] == 120 and claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) >= 16  # 128 random bits
    header = jwt.get_unverified_header(body["access_token"])
    assert set(header) == {"alg", "kid", "typ"} and header["alg"] == "ES256"
    issued = [line for line in audit_lines(world.service, "token_issued") if line["jti"] == claims["jti"]]
    assert len(issued) == 1
    assert issued[0]["client_id"] == "svc" and issued[0]["kid"] == header["kid"]
    assert issued[0]["scopes"] == ["read"] and issued[0]["audience"] == API_ONE
    assert issued[0]["exp"] == claims["exp"] and issued[0]["auth_method"] == "client_secret_basic"


def test_client_secret_post(world: World) -> None:
    body = _ok(post_token(world.base, {**CC, "client_id": "svc", "client_secret": world.secrets["svc"]}))
    assert verify_access_token(world.base, body["access_token"], API_ONE)["client_id"] == "svc"


def test_jtis_are_unique(world: World) -> None:
    tokens = [_ok(post_token(world.base, CC, auth=world.basic()))["access_token"] for _ in range(20)]
    assert len({jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}) == 20


@pytest.mark.parametrize(
    ("client_id", "alg", "kid"), [("ec-jwt", "ES256", "ec-1"), ("rsa-jwt", "PS256", None)]
)
@pytest.mark.parametrize("audience", ["token_url", "issuer"])
def test_private_key_jwt(world: World, client_id: str, alg: str, kid: str | None, audience: str) -> None:
    aud = world.token_url if audience == "token_url" else world.base
    listed = httpx.get(world.base + "/.well-known/oauth-authorization-server").json()[
        "token_endpoint_auth_signing_alg_values_supported"]
    assert alg in listed  # what is accepted is what discovery says
    signed = assertion(world.keys[client_id], alg, client_id, aud, kid=kid)
    body = _ok(post_token(world.base, assertion_form(signed)))
    claims = verify_access_token(world.base, body["access_token"], API_ONE)
    assert claims["client_id"] == client_id
    # The same assertion again is a replay (jti single use).
    replay = post_token(world.base, assertion_form(signed))
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    assert "replay" in replay.json()["error_description"]


# -- scope, audience and lifetime narrowing ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "scope", "aud"),
    [
        ({}, "read", API_ONE),
        ({"scope": "write"}, "write", API_ONE),
        ({"scope": "read admin"}, "read admin", API_ONE),
        ({"scope": "admin admin"}, "admin", API_ONE),
        ({"audience": API_TWO}, "read", API_TWO),
        ({"resource": API_TWO, "scope": "write"}, "write", API_TWO),
        ({"scope": ""}, "read", API_ONE),  # a parameter without a value counts as omitted
    ],
)
def test_scope_and_audience_narrowing(world: World, params: dict[str, str], scope: str, aud: str) -> None:
    body = _ok(post_token(world.base, {**CC, **params}, auth=world.basic()))
    assert body["scope"] == scope
    claims = verify_access_token(world.base, body["access_token"], aud)
    assert claims["scope"] == scope and claims["aud"] == aud


def test_lifetime_is_capped_by_the_global_maximum(world: World) -> None:
    body = _ok(post_token(world.base, CC, auth=world.basic("long")))
    assert body["expires_in"] == 600
    claims = verify_access_token(world.base, body["access_token"], API_ONE)
    assert claims["exp"] - claims["iat"] == 600


# -- every RFC 6749 section 5.2 error (and RFC 8707 invalid_target) ----------------------------


def _basic_header(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ERROR_CASES: list[tuple[str, Any, int, str]] = [
    # (name, request builder (world -> httpx kwargs), status, error)
    ("grant_type missing", lambda w: {"data": {"scope": "read"}, "auth": w.basic()}, 400, "invalid_request"),
    (
        "duplicate parameter",
        lambda w: {
            "content": "grant_type=client_credentials&scope=read&scope=write",
            "headers": {**FORM, **_basic_header(*w.basic())},
        },
        400,
        "invalid_request",
    ),
    (
        "two auth methods",
        lambda w: {"data": {**CC, "client_id": "svc", "client_secret": w.secrets["svc"]}, "auth": w.basic()},
        400,
        "invalid_request",
    ),
    (
        "secret and assertion",
        lambda w: {"data": {**assertion_form("a.b.c"), "client_id": "svc", "client_secret": "x"}},
        400,
        "invalid_request",
    ),
    ("JSON body", lambda w: {"json": CC, "auth": w.basic()}, 400, "invalid_request"),
    (
        "no content type",
        lambda w: {"content": "grant_type=client_credentials", "headers": _basic_header(*w.basic())},
        400,
        "invalid_request",
    ),
    (
        "malformed form",
        lambda w: {"content": "grant_type&&", "headers": {**FORM, **_basic_header(*w.basic())}},
        400,
        "invalid_request",
    ),
    (
        "non-UTF-8 escape",
        lambda w: {
            "content": "grant_type=client_credentials&scope=%ff",
            "headers": {**FORM, **_basic_header(*w.basic())},
        },
        400,
        "invalid_request",
    ),
    (
        "parameters in the URL",
        lambda w: {"data": CC, "auth": w.basic(), "params": {"client_secret": "x"}},
        400,
        "invalid_request",
    ),
    (
        "secret without client_id",
        lambda w: {"data": {**CC, "client_secret": w.secrets["svc"]}},
        400,
        "invalid_request",
    ),
    (
        "assertion without type",
        lambda w: {"data": {**CC, "client_assertion": "a.b.c"}},
        400,
        "invalid_request",
    ),
    (
        "client_id differs from Basic",
        lambda w: {"data": {**CC, "client_id": "other"}, "auth": w.basic()},
        400,
        "invalid_request",
    ),
    (
        "audience and resource",
        lambda w: {"data": {**CC, "audience": API_ONE, "resource": API_ONE}, "auth": w.basic()},
        400,
        "invalid_request",
    ),
    (
        "body too large",
        lambda w: {"data": {**CC, "scope": "x" * 5000}, "auth": w.basic()},
        413,
        "invalid_request",
    ),
    ("wrong secret", lambda w: {"data": CC, "auth": ("svc", "wrong")}, 401, "invalid_client"),
    ("unknown client", lambda w: {"data": CC, "auth": ("nobody", w.secrets["svc"])}, 401, "invalid_client"),
    ("malformed client id", lambda w: {"data": CC, "auth": ("bad id!", "x")}, 401, "invalid_client"),
    ("no client authentication", lambda w: {"data": {**CC, "client_id": "svc"}}, 401, "invalid_client"),
    (
        "Bearer instead of Basic",
        lambda w: {"data": CC, "headers": {"Authorization": "Bearer abc"}},
        401,
        "invalid_client",
    ),
    (
        "Basic not base64",
        lambda w: {"data": CC, "headers": {"Authorization": "Basic %%%"}},
        401,
        "invalid_client",
    ),
    (
        "secret client tries private_key_jwt",
        lambda w: {"data": assertion_form(assertion(w.keys["ec-jwt"], "ES256", "svc", w.token_url))},
        401,
        "invalid_client",
    ),
    (
        "key client tries a secret",
        lambda w: {"data": CC, "auth": ("ec-jwt", "anything")},
        401,
        "invalid_client",
    ),
    (
        "unknown assertion type",
        lambda w: {"data": {**assertion_form("a.b.c"), "client_assertion_type": "urn:x"}},
        401,
        "invalid_client",
    ),
    ("disabled client", lambda w: {"data": CC, "auth": w.basic("off")}, 400, "invalid_grant"),
    (
        "password grant",
        lambda w: {"data": {"grant_type": "password"}, "auth": w.basic()},
        400,
        "unsupported_grant_type",
    ),
    (
        "authorization_code grant",
        lambda w: {"data": {"grant_type": "authorization_code", "code": "x"}, "auth": w.basic()},
        400,
        "unsupported_grant_type",
    ),
    (
        "scope not allowed",
        lambda w: {"data": {**CC, "scope": "read delete"}, "auth": w.basic()},
        400,
        "invalid_scope",
    ),
    (
        "scope malformed",
        lambda w: {"data": {**CC, "scope": "read  write"}, "auth": w.basic()},
        400,
        "invalid_scope",
    ),
    (
        "audience not allowed",
        lambda w: {"data": {**CC, "audience": "https://elsewhere"}, "auth": w.basic()},
        400,
        "invalid_target",
    ),
    (
        "resource not allowed",
        lambda w: {"data": {**CC, "resource": "https://elsewhere"}, "auth": w.basic()},
        400,
        "invalid_target",
    ),
    (
        "resource not an absolute URI",
        lambda w: {"data": {**CC, "resource": "api.one"}, "auth": w.basic()},
        400,
        "invalid_target",
    ),
    (
        "two resources",
        lambda w: {"data": {**CC, "resource": [API_ONE, API_TWO]}, "auth": w.basic()},
        400,
        "invalid_target",
    ),
]


@pytest.mark.parametrize(("name", "build", "status", "error"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_responses(world: World, name: str, build: Any, status: int, error: str) -> None:
    response = httpx.post(world.token_url, timeout=30, **build(world))
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Basic realm="signet"')


def test_unknown_client_and_wrong_secret_look_the_same(world: World) -> None:
    unknown = post_token(world.base, CC, auth=("nobody", "x"))
    wrong = post_token(world.base, CC, auth=("svc", "x"))
    assert (unknown.status_code, unknown.json(), unknown.headers["www-authenticate"]) == (
        wrong.status_code,
        wrong.json(),
        wrong.headers["www-authenticate"],
    )


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(world: World, method: str) -> None:
    response = httpx.request(method, world.token_url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


def test_declared_oversize_body_is_refused_unread(world: World) -> None:
    """Content-Length says 10 MB and only 29 bytes follow: the issuer answers without waiting."""
    host, port = world.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 10000000\r\n\r\ngrant_type=client_credentials"
        )
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413 ")


def _bad_assertions(w: World) -> list[tuple[str, str]]:
    key, url = w.keys["ec-jwt"], w.token_url
    other = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    return [
        ("wrong audience", assertion(key, "ES256", "ec-jwt", "https://elsewhere/token", kid="ec-1")),
        ("expired", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", exp=now - 120)),
        ("no exp", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", drop=("exp",))),
        ("no jti", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", drop=("jti",))),
        ("exp too far ahead", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", exp=now + 3600)),
        ("iss differs from sub", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", iss="svc")),
        ("signed by another key", assertion(other, "ES256", "ec-jwt", url, kid="ec-1")),
        ("unknown kid", assertion(key, "ES256", "ec-jwt", url, kid="nope")),
        (
            "alg none",
            jwt.encode(
                {"iss": "ec-jwt", "sub": "ec-jwt", "aud": url, "exp": now + 60, "jti": "n"},
                None,
                algorithm="none",
            ),
        ),
        (
            "HS256 keyed with the public key",
            jwt.encode(
                {"iss": "ec-jwt", "sub": "ec-jwt", "aud": url, "exp": now + 60, "jti": "h"},
                b"a-key-that-is-long-enough-for-hmac-sha256!",
                algorithm="HS256",
            ),
        ),
        ("an access token", assertion(key, "ES256", "ec-jwt", url, kid="ec-1", headers={"typ": "at+jwt"})),
        ("not a JWT", "not-a-jwt"),
    ]


def test_private_key_jwt_strictness(world: World) -> None:
    for name, signed in _bad_assertions(world):
        response = post_token(world.base, assertion_form(signed))
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"] == "invalid_client", name
    mismatch = post_token(
        world.base,
        assertion_form(
            assertion(world.keys["ec-jwt"], "ES256", "ec-jwt", world.token_url, kid="ec-1"), client_id="svc"
        ),
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_request"


# -- the registry file is reloaded while the issuer runs ----------------------------------------


def _eventually(check: Any, what: str, timeout: float = 15.0) -> Any:
    """Poll until `check()` is truthy: the issuer re-reads the file within about a second."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return result


def test_registry_reload_add_rotate_remove(world: World) -> None:
    secret = add_client(world.env, "late", "--scope", "read", "--audience", API_ONE) or ""
    _eventually(
        lambda: post_token(world.base, CC, auth=("late", secret)).status_code == 200,
        "client added while running never got a token",
    )
    rotated = json.loads(run_cli(world.env, "clients", "rotate-secret", "late", "--json").stdout)
    assert rotated["client_id"] == "late" and rotated["client_secret"] != secret
    # The old secret is in the issuer's verification cache, but the cache is keyed by the hash.
    _eventually(
        lambda: post_token(world.base, CC, auth=("late", secret)).status_code == 401,
        "old secret still accepted after rotate-secret",
    )
    _ok(post_token(world.base, CC, auth=("late", rotated["client_secret"])))
    run_cli(world.env, "clients", "disable", "late")
    _eventually(
        lambda: post_token(world.base, CC, auth=("late", rotated["client_secret"])).status_code == 400,
        "disabled client still served",
    )
    run_cli(world.env, "clients", "remove", "late")
    _eventually(
        lambda: post_token(world.base, CC, auth=("late", rotated["client_secret"])).status_code == 401,
        "removed client still served",
    )


def test_broken_registry_file_keeps_the_last_good_one(world: World) -> None:
    good = world.clients_file.read_text()
    try:
        world.clients_file.write_text(good + "\n  oops: [unclosed\n")
        # The file is checked when a request needs the registry: each poll is a working request.
        _eventually(
            lambda: _ok(post_token(world.base, CC, auth=world.basic()))
            and "clients file not reloaded" in world.service.output(),
            "no error logged",
        )
    finally:
        world.clients_file.write_text(good)


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_list_and_errors(world: World, tmp_path: Path) -> None:
    listed = json.loads(run_cli(world.env, "clients", "list", "--json").stdout)
    by_id = {row["client_id"]: row for row in listed}
    assert by_id["svc"]["scopes"] == ["read", "write", "admin"]
    assert by_id["off"]["enabled"] is False
    assert by_id["ec-jwt"]["auth_methods"] == ["private_key_jwt"]
    text = world.clients_file.read_text()
    assert "$argon2id$" in text and not any(s in text for s in world.secrets.values())
    assert world.clients_file.stat().st_mode & 0o777 == 0o600
    for args, status in (  # 1: refused by the registry's state; 2: a bad argument
        (["clients", "remove", "ghost"], 1),
        (["clients", "add", "svc", "--scope", "a", "--audience", "b"], 1),
        (["clients", "add", "x", "--scope", "bad scope", "--audience", "b"], 2),
        (["clients", "rotate-secret", "ec-jwt"], 1),
    ):
        result = run_cli(world.env, *args, check=False)
        assert result.returncode == status, args
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("signet: error:")


def test_cli_token_and_toml_registry(world: World, tmp_path: Path) -> None:
    env = {**world.env, "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.toml")}
    secret = add_client(env, "t", "--scope", "read", "--audience", API_ONE) or ""
    assert "[clients.t]" in (tmp_path / "clients.toml").read_text()
    assert json.loads(run_cli(env, "clients", "list", "--json").stdout)[0]["client_id"] == "t"
    fetched = run_cli(
        world.env,
        "token",
        "--client-id",
        "svc",
        "--client-secret",
        world.secrets["svc"],
        "--scope",
        "write",
        "--audience",
        API_TWO,
        "--issuer",
        world.base,
    )
    body = json.loads(fetched.stdout)
    assert verify_access_token(world.base, body["access_token"], API_TWO)["scope"] == "write"
    refused = run_cli(
        {**world.env, "SVC_SECRET": "wrong"},
        "token",
        "--client-id",
        "svc",
        "--client-secret-env",
        "SVC_SECRET",
        "--issuer",
        world.base,
        check=False,
    )
    assert refused.returncode == 1 and "invalid_client" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and secret not in refused.stderr


# -- last: nothing secret ever reached the issuer's logs --------------------------------------------


def test_logs_hold_no_secrets_and_no_token_signatures(world: World) -> None:
    tokens = [
        _ok(post_token(world.base, CC, auth=world.basic()))["access_token"],
        _ok(post_token(world.base, {**CC, "client_id": "long", "client_secret": world.secrets["long"]}))[
            "access_token"
        ],
    ]
    signed = assertion(world.keys["ec-jwt"], "ES256", "ec-jwt", world.token_url, kid="ec-1")
    tokens.append(_ok(post_token(world.base, assertion_form(signed)))["access_token"])
    post_token(world.base, CC, auth=("svc", "wrong-secret-that-must-not-be-logged"))
    post_token(world.base, {**CC, "client_id": "svc", "client_secret": "another-secret-not-to-log"})
    log = world.service.output()
    assert audit_lines(world.service, "token_refused") and audit_lines(world.service, "token_issued")
    forbidden = [
        *world.secrets.values(),
        "wrong-secret-that-must-not-be-logged",
        "another-secret-not-to-log",
        signed.rsplit(".", 1)[1],
        *(t.rsplit(".", 1)[1] for t in tokens),
    ]
    for value in forbidden:
        assert value not in log
    assert "Traceback" not in log


# -- client assertions: claim types, what an unknown client learns, the replay record --------

_ODD_VALUES = {"numeric string": "1796000000", "bool": True, "float": 1.5, "huge int": 10**400,
               "null": None, "array": [1, 2]}


# (A float is a valid NumericDate, and a numeric string a valid jti: neither is odd there.)
_ODD_CASES = [(claim, kind) for claim in ("exp", "iat", "nbf", "jti", "aud", "iss", "sub")
              for kind in _ODD_VALUES
              if not (kind == "float" and claim in ("exp", "iat", "nbf"))
              and not (kind == "numeric string" and claim == "jti")]


@pytest.mark.parametrize(("claim", "kind"), _ODD_CASES)
def test_client_assertion_claim_types_never_give_a_5xx(world: World, claim: str, kind: str) -> None:
    """A correctly signed assertion whose claim has an odd JSON type: 401 invalid_client with
    a reason (PyJWT alone accepts `exp: "1796..."`, which then broke the lifetime check)."""
    value = _ODD_VALUES[kind]
    if claim == "exp" and kind == "numeric string":
        value = str(int(time.time()) + 60)  # the exact shape that gave a 500
    now = int(time.time())
    body = {"iss": "ec-jwt", "sub": "ec-jwt", "aud": world.token_url, "iat": now, "exp": now + 60,
            "jti": f"odd-{claim}-{kind}-{now}", claim: value}
    # PyJWS, not jwt.encode: PyJWT refuses to *encode* some of these (a non-string iss).
    signed = jwt.PyJWS().encode(json.dumps(body).encode(), world.keys["ec-jwt"], algorithm="ES256",
                                headers={"kid": "ec-1"})
    response = post_token(world.base, assertion_form(signed))
    assert response.status_code in (400, 401), (claim, kind, response.status_code, response.text)
    assert response.json()["error"] in ("invalid_client", "invalid_request"), response.text
    assert response.json().get("error_description"), response.text


def test_assertion_errors_do_not_tell_which_clients_use_private_key_jwt(world: World) -> None:
    """Junk signature with `typ: at+jwt`: a registered and an unknown client id get the same
    answer (the `typ` check comes only after a signature verified)."""
    junk = ec.generate_private_key(ec.SECP256R1())
    answers = []
    for client_id in ("ec-jwt", "no-such-client"):
        signed = assertion(junk, "ES256", client_id, world.token_url, headers={"typ": "at+jwt"})
        response = post_token(world.base, assertion_form(signed))
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1], answers
    assert answers[0][0] == 401


def test_the_jti_record_outlives_every_instant_the_assertion_is_accepted() -> None:
    """Injected clock: for any `exp` and `now` (fractions included), the replay record lives
    past `exp + leeway`, the last instant PyJWT accepts the assertion."""
    from app.token.assertions import LEEWAY_SECONDS, replay_ttl

    base = 1_796_000_000.0
    for exp_fraction in (0.0, 0.01, 0.5, 0.99):
        for now_offset in (-LEEWAY_SECONDS + 0.01, -0.5, 0.0, 0.3, 29.5, 59.99):
            exp, now = base + 60 + exp_fraction, base + 60 + now_offset
            assert now + replay_ttl(exp, now) > exp + LEEWAY_SECONDS, (exp_fraction, now_offset)
