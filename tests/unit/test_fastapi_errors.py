"""The FastAPI dependencies answer 401 and 403 with the middleware's flat body (RFC 6750
headers included), whether or not `install_error_handler` has run; a handler the app chose
itself stays in charge. In process: the ASGI app is called directly (over HTTP:
tests/integration/test_error_bodies_http.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from signet.algorithms import ALGORITHMS
from signet.jwk import public_key_to_jwk
from signet.verifier import Claims, Verifier
from signet.verifier.fastapi import install_error_handler, require_scopes, require_token
from tests.support.clock import Clock

NOW = 1_800_000_000
ISSUER = "https://issuer.unit.test"
KEY = ec.generate_private_key(ec.SECP256R1())
JWK = public_key_to_jwk(KEY.public_key(), ALGORITHMS["ES256"])


def _app(install: bool) -> FastAPI:
    verifier = Verifier(ISSUER, "api://x", jwks_url=ISSUER + "/jwks", clock=Clock(NOW))
    verifier.load_jwks(ISSUER, json.dumps({"keys": [JWK]}))
    app = FastAPI()
    if install:
        install_error_handler(app)

    @app.get("/read")
    async def read(claims: Claims = Depends(require_token(verifier))) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    @app.get("/admin")
    async def admin(claims: Claims = Depends(require_scopes("admin", verifier=verifier))) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject}

    return app


def _token(scope: str) -> str:
    claims = {"iss": ISSUER, "sub": "c", "client_id": "c", "aud": "api://x", "iat": NOW,
              "exp": NOW + 60, "jti": "j", "scope": scope}
    return jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": JWK["kid"], "typ": "at+jwt"})


def _get(app: FastAPI, path: str, token: str | None) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await client.get(path, headers=headers)
    return asyncio.run(call())


def test_dependency_refusals_have_the_flat_body_and_rfc6750_headers() -> None:
    app = _app(install=True)
    missing = _get(app, "/read", None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"error": "unauthorized", "error_description": "a bearer token is required"}
    bad = _get(app, "/read", "not.a.token")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad.json()["code"] == "malformed" and "detail" not in bad.json()
    reader = _get(app, "/admin", _token("read"))
    assert reader.status_code == 403
    assert reader.json() == {"error": "insufficient_scope", "code": "insufficient_scope",
                             "error_description": "the access token lacks a required scope"}
    assert 'scope="admin"' in reader.headers["www-authenticate"]
    assert reader.headers["cache-control"] == "no-store"
    assert _get(app, "/admin", _token("read admin")).json() == {"sub": "c"}


def test_without_the_handler_the_body_is_flat_too() -> None:
    app = _app(install=False)
    for _ in range(2):  # the first refusal adds the handler; the second finds it
        reader = _get(app, "/admin", _token("read"))
        assert reader.status_code == 403 and reader.json()["code"] == "insufficient_scope"
        assert "detail" not in reader.json() and 'scope="admin"' in reader.headers["www-authenticate"]
        missing = _get(app, "/read", None)
        assert missing.json() == {"error": "unauthorized", "error_description": "a bearer token is required"}
        assert missing.headers["www-authenticate"] == "Bearer"


def test_a_handler_the_app_chose_stays_in_charge() -> None:
    app = _app(install=False)

    async def own(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse({"mine": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(StarletteHTTPException, own)
    reader = _get(app, "/admin", _token("read"))
    assert reader.status_code == 403 and reader.json()["mine"]["code"] == "insufficient_scope"
    by_status = _app(install=False)
    by_status.add_exception_handler(401, own)
    assert _get(by_status, "/read", None).json()["mine"]["error"] == "unauthorized"
