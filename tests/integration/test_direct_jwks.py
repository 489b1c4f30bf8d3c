"""The `DirectRoute` for JWKS answers GET /.well-known/jwks.json past FastAPI's router: its answers
must be the route's own, byte for byte (two issuer apps with local keys, one without the
shortcut, each under uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.middleware import Middleware

from app.asgi.direct import DirectRoute
from app.main import create_app
from app.routes.well_known import JWKS_PATH
from tests.support.processes import ThreadServer

PER_RESPONSE = ("x-request-id", "date")  # differ between any two answers


def _app(tmp: Path, direct: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("SIGNET_LOCAL_KEY_DIR", str(tmp / "keys"))
    monkeypatch.setenv("SIGNET_CLIENTS_FILE", str(tmp / "clients.yaml"))
    app = create_app()
    def is_jwks_shortcut(m: Middleware) -> bool:
        return m.cls is DirectRoute and m.kwargs["path"] == JWKS_PATH

    assert any(is_jwks_shortcut(m) for m in app.user_middleware)
    if not direct:
        app.user_middleware = [m for m in app.user_middleware if not is_jwks_shortcut(m)]
    return app


@pytest.fixture()
def clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with ThreadServer(_app(tmp_path, True, monkeypatch)) as direct_url, \
            ThreadServer(_app(tmp_path, False, monkeypatch)) as routed_url, \
            httpx.Client(base_url=direct_url) as direct, httpx.Client(base_url=routed_url) as routed:
        yield direct, routed


def _answer(client: httpx.Client, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    response = client.get(JWKS_PATH, headers=headers)
    kept = {k: v for k, v in response.headers.items() if k not in PER_RESPONSE}
    assert response.headers["x-request-id"]  # still inside the request-id middleware
    return response.status_code, kept, response.content


def test_direct_jwks_answers_as_the_route_does(clients: tuple[httpx.Client, httpx.Client]) -> None:
    direct, routed = clients
    first = _answer(direct, {})
    assert first[0] == 200 and first[2].startswith(b'{"keys":[')
    etag = first[1]["etag"]
    for headers in ({}, {"If-None-Match": etag}, {"If-None-Match": '"stale"'},
                    {"Origin": "https://app.example"}):
        assert _answer(direct, headers) == _answer(routed, headers), headers
    assert _answer(direct, {"If-None-Match": etag})[0] == 304


def test_other_methods_still_reach_the_router(clients: tuple[httpx.Client, httpx.Client]) -> None:
    direct, _ = clients
    head = direct.head(JWKS_PATH)
    assert head.status_code == 200 and head.content == b""  # the router's HEAD route
    assert direct.post(JWKS_PATH).status_code == 405
    assert direct.options(JWKS_PATH, headers={"Origin": "https://app.example",
                                              "Access-Control-Request-Method": "GET"}).status_code == 204
