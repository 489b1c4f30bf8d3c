"""One error body for every 401 and 403, over HTTP: the middleware and the FastAPI
dependencies (with and without `install_error_handler`) answer a missing token, a bad token,
a token for another audience and a token lacking a scope with the flat
`{"error", "error_description"[, "code"]}` body and the RFC 6750 section 3 challenge.

Real parts: an issuer under uvicorn (tokens from POST /token), apps under uvicorn on loopback
(in this process), verifiers finding keys by discovery over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from signet.verifier import Claims, SignetAuthMiddleware, Verifier
from signet.verifier.fastapi import install_error_handler, require_scopes, require_token
from tests.support.processes import RunningIssuer, ThreadServer
from tests.support.tokens import post_token

AUD, OTHER = "api://errors", "api://elsewhere"
# RFC 6750 section 3: auth-param = token "=" quoted-string, comma separated.
PARAM = re.compile(r'([a-z_]+)="([^"\\]*)"')


def _app(issuer: str, kind: str) -> FastAPI:
    verifier = Verifier(issuer, AUD)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if kind != "middleware":  # the middleware closes its own
            await verifier.aclose()

    app = FastAPI(lifespan=lifespan)
    given = None if kind == "middleware" else verifier
    if kind == "middleware":
        app.add_middleware(SignetAuthMiddleware, verifier=verifier)
    if kind == "dependencies+handler":
        install_error_handler(app)

    @app.get("/read")
    async def read(claims: Claims = Depends(require_token(given))) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    @app.get("/admin")
    async def admin(claims: Claims = Depends(require_scopes("admin", verifier=given))) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    return app


KINDS = ["middleware", "dependencies", "dependencies+handler"]


@pytest.fixture(scope="module")
def world(make_issuer: Callable[..., RunningIssuer]) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """(base URL per app kind, token per case)."""
    issuer = make_issuer(clients={"svc": ("--scope", "read", "--scope", "admin", "--default-scope", "read",
                                          "--audience", AUD, "--audience", OTHER)})
    auth = ("svc", issuer.secrets["svc"])

    def token(**form: str) -> str:
        response = post_token(issuer.base, {"grant_type": "client_credentials", **form}, auth=auth)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    good = token(scope="read admin")
    tokens = {"reader": token(scope="read"), "good": good, "other_audience": token(audience=OTHER),
              "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")}
    with ExitStack() as stack:
        bases = {kind: stack.enter_context(ThreadServer(_app(issuer.base, kind))) for kind in KINDS}
        yield bases, tokens


def _challenge(header: str) -> dict[str, str]:
    assert header.startswith("Bearer"), header
    return dict(PARAM.findall(header[len("Bearer"):]))


# (case, path, token name or None, status, error, code, challenge error)
CASES = [
    ("missing token", "/read", None, 401, "unauthorized", None, None),
    ("malformed token", "/read", "not-a-jwt", 401, "invalid_token", "malformed", "invalid_token"),
    ("bad signature", "/read", "tampered", 401, "invalid_token", "bad_signature", "invalid_token"),
    ("wrong audience", "/read", "other_audience", 401, "invalid_token", "wrong_audience", "invalid_token"),
    ("insufficient scope", "/admin", "reader", 403, "insufficient_scope", "insufficient_scope",
     "insufficient_scope"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "path", "token", "status", "error", "code", "challenge_error"), CASES,
                         ids=[c[0] for c in CASES])
def test_one_body_and_an_rfc6750_challenge(world: tuple[dict[str, str], dict[str, str]], kind: str,
                                           case: str, path: str, token: str | None, status: int,
                                           error: str, code: str | None,
                                           challenge_error: str | None) -> None:
    bases, tokens = world
    headers = {} if token is None else {"Authorization": f"Bearer {tokens.get(token, token)}"}
    response = httpx.get(bases[kind] + path, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"} | ({"code"} if code else set()), body
    assert body["error"] == error and body.get("code") == code
    params = _challenge(response.headers["www-authenticate"])
    if challenge_error is None:  # section 3.1: no error attribute without credentials
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert params["error"] == challenge_error
        assert params["error_description"] == body["error_description"]
    if status == 403:
        assert params["scope"] == "admin"


@pytest.mark.parametrize("kind", KINDS)
def test_a_good_token_passes(world: tuple[dict[str, str], dict[str, str]], kind: str) -> None:
    bases, tokens = world
    response = httpx.get(bases[kind] + "/admin", headers={"Authorization": f"Bearer {tokens['good']}"},
                         timeout=10)
    assert response.status_code == 200 and response.json() == {"sub": "svc"}
