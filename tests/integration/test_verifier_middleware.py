"""SignetAuthMiddleware and the FastAPI dependencies in process (Starlette's TestClient drives
the real ASGI app, lifespan included). Keys are preloaded; an unreachable issuer is a closed
loopback port (fault injection)."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket

with warnings.catch_warnings():  # Starlette suggests httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from signet.keys.local import LocalSigningKey
from signet.verifier import Claims, SignetAuthMiddleware, Verifier
from signet.verifier.fastapi import require_scopes, require_token
from tests.support.processes import free_port
from tests.support.verifier_tokens import AUDIENCE, access_claims, open_key, sign_claims

ISSUER = "https://issuer.middleware.test"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> LocalSigningKey:
    return asyncio.run(open_key(tmp_path_factory.mktemp("keys")))


def preloaded(key: LocalSigningKey) -> Verifier:
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=f"http://127.0.0.1:{free_port()}/jwks",
                        http_timeout_seconds=0.5)
    verifier.load_jwks(ISSUER, json.dumps({"keys": [key.published.jwk]}))
    return verifier


def build_app(verifier: Verifier, **middleware: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/public/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    @app.get("/secure")
    async def secure(claims: Claims = Depends(require_token())) -> dict[str, Any]:  # noqa: B008
        return {"sub": claims.subject, "state": claims is not None}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": websocket.scope["state"]["claims"]["sub"]})
        await websocket.close()

    app.add_middleware(SignetAuthMiddleware, verifier=verifier, exclude_paths=["/public/"], **middleware)
    return app


@pytest.fixture
def client(key: LocalSigningKey) -> Iterator[TestClient]:
    with TestClient(build_app(preloaded(key))) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_prefix_exclusion_and_claims_in_state(client: TestClient, key: LocalSigningKey) -> None:
    assert client.get("/public/ping").status_code == 200
    assert client.get("/secure").status_code == 401
    token = sign_claims(key, access_claims(ISSUER))
    assert client.get("/secure", headers=bearer(token)).json() == {"sub": "client-1", "state": True}


def test_websocket_needs_a_token(client: TestClient, key: LocalSigningKey) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1008
    token = sign_claims(key, access_claims(ISSUER))
    with client.websocket_connect("/ws", headers=bearer(token)) as websocket:
        assert websocket.receive_json() == {"sub": "client-1"}


def test_unreachable_issuer_answers_503_not_401(key: LocalSigningKey) -> None:
    """No keys can be had (the JWKS URL is a closed port): retry later, the token may be fine."""
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=f"http://127.0.0.1:{free_port()}/jwks",
                        http_timeout_seconds=0.5)
    with TestClient(build_app(verifier)) as client:
        response = client.get("/secure", headers=bearer(sign_claims(key, access_claims(ISSUER))))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "keys_unavailable"
    assert verifier.stats.keys_unavailable >= 1


def test_dependencies_verify_without_the_middleware(key: LocalSigningKey) -> None:
    verifier = preloaded(key)
    app = FastAPI()

    @app.get("/scoped")
    async def scoped(claims: Claims = Depends(require_scopes("read", "write", verifier=verifier))) -> str:  # noqa: B008
        return str(claims.subject)

    with TestClient(app) as client:
        assert client.get("/scoped").headers["www-authenticate"] == "Bearer"
        bad = client.get("/scoped", headers=bearer("a.b.c"))
        assert bad.status_code == 401 and bad.json()["code"] == "malformed"
        read_only = client.get("/scoped", headers=bearer(sign_claims(key, access_claims(ISSUER))))
        assert read_only.status_code == 403
        assert 'scope="read write"' in read_only.headers["www-authenticate"]
        both = sign_claims(key, access_claims(ISSUER, scope="write read"))
        assert client.get("/scoped", headers=bearer(both)).json() == "client-1"
    verifier.close()


def test_a_dependency_given_a_verifier_verifies_with_it(key: LocalSigningKey) -> None:
    """The middleware accepts audiences A and B; a route's own verifier accepts only C. A
    token for A passes the middleware but must not reach that route."""
    jwks = json.dumps({"keys": [key.published.jwk]})
    wide = Verifier(ISSUER, ["urn:a", "urn:b"], jwks_url=f"http://127.0.0.1:{free_port()}/jwks")
    strict = Verifier(ISSUER, "urn:c", jwks_url=f"http://127.0.0.1:{free_port()}/jwks")
    for verifier in (wide, strict):
        verifier.load_jwks(ISSUER, jwks)
    app = FastAPI()

    @app.get("/strict")
    async def strict_route(claims: Claims = Depends(require_token(verifier=strict))) -> str:  # noqa: B008
        return str(claims.subject)

    @app.get("/scoped")
    async def scoped_route(claims: Claims = Depends(require_scopes("read", verifier=strict))) -> str:  # noqa: B008
        return str(claims.subject)

    app.add_middleware(SignetAuthMiddleware, verifier=wide)
    for_a = sign_claims(key, access_claims(ISSUER, aud="urn:a", scope="read"))
    for_c = sign_claims(key, access_claims(ISSUER, aud="urn:c", scope="read"))
    with TestClient(app) as client:
        for path in ("/strict", "/scoped"):
            refused = client.get(path, headers=bearer(for_a))
            assert refused.status_code == 401, (path, refused.text)
            assert refused.json()["code"] == "wrong_audience"
        assert client.get("/strict", headers=bearer(for_c)).status_code == 401  # the middleware's audiences
        both = sign_claims(key, access_claims(ISSUER, aud=["urn:a", "urn:c"], scope="read"))
        assert client.get("/strict", headers=bearer(both)).json() == "client-1"
        assert client.get("/scoped", headers=bearer(both)).json() == "client-1"
    strict.close()
