"""Helpers for token endpoint tests: the CLI as a subprocess, token checks against the served
JWKS (PyJWT and tests/independent_jwk), client assertions signed with PyJWT, audit lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from tests import independent_jwk
from tests.support.processes import NO_METADATA, ROOT, Service

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def run_cli(env: Mapping[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` with the test's SIGNET_* environment."""
    result = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, **NO_METADATA, **env}, timeout=60,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"signet {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def add_client(env: Mapping[str, str], client_id: str, *args: str) -> str | None:
    """Register a client with the CLI; returns the secret it printed (None for key clients)."""
    out = run_cli(env, "clients", "add", client_id, *args, "--json").stdout
    printed = json.loads(out)
    assert printed["client_id"] == client_id
    return printed["client_secret"]  # type: ignore[no-any-return]


def post_token(base: str, data: Mapping[str, str] | list[tuple[str, str]] | None = None,
               auth: tuple[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(base + "/token", data=data, auth=auth, timeout=30, **kwargs)  # type: ignore[arg-type]


def verify_access_token(base: str, token: str, audience: str) -> dict[str, Any]:
    """Check a token as any verifier would: PyJWT against the served JWKS, then raw cryptography."""
    jwks = httpx.get(base + "/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims: dict[str, Any] = jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=audience, issuer=base,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"]})
    independent_jwk.verify_compact(token, jwk)
    return claims


def assertion(private_key: Any, alg: str, client_id: str, audience: str, *, kid: str | None = None,
              headers: Mapping[str, Any] | None = None, drop: tuple[str, ...] = (),
              **claims: Any) -> str:
    """An RFC 7523 client assertion signed with PyJWT (independent of Signet's own signer)."""
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}
    for name in drop:
        body.pop(name)
    return jwt.encode(body, private_key, algorithm=alg,
                      headers={**({"kid": kid} if kid else {}), **(headers or {})})


def assertion_form(token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": token, **extra}


def audit_lines(service: Service, event: str | None = None) -> list[dict[str, Any]]:
    lines = []
    for line in service.output().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "signet.audit" and (event is None or record["event"] == event):
                lines.append(record)
    return lines
