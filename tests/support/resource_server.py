"""A tiny resource server for testing signet.client: verifies Signet tokens with PyJWT
against the issuer's JWKS and can be told to reject tokens (to provoke a 401 retry).

Run: RS_ISSUER=http://127.0.0.1:PORT RS_AUDIENCE=... uvicorn tests.support.resource_server:app
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = os.environ.get("RS_ISSUER", "")
AUDIENCE = os.environ.get("RS_AUDIENCE", "")
state: dict[str, Any] = {"hits": 0, "rejected": set(), "reject_all": False, "last_jti": None, "keys": None}


async def _claims(request: Request) -> dict[str, Any] | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    if state["keys"] is None:
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(ISSUER + "/.well-known/jwks.json")).json()
        state["keys"] = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
    try:
        key = state["keys"][jwt.get_unverified_header(token)["kid"]]
        return jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=AUDIENCE,  # type: ignore[no-any-return]
                          issuer=ISSUER)
    except (jwt.PyJWTError, KeyError):
        return None


async def hello(request: Request) -> JSONResponse:
    state["hits"] += 1
    claims = await _claims(request)
    if claims is None or state["reject_all"] or claims["jti"] in state["rejected"]:
        return JSONResponse({"error": "invalid_token"}, 401,
                            {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    state["last_jti"] = claims["jti"]
    body = (await request.body()).decode()
    return JSONResponse({"client_id": claims["client_id"], "jti": claims["jti"], "body": body})


async def control(request: Request) -> JSONResponse:
    action = request.path_params["action"]
    if action == "reject-last":
        state["rejected"].add(state["last_jti"])
    elif action == "reject-all":
        state["reject_all"] = True
    elif action == "accept-all":
        state["reject_all"] = False
    return JSONResponse({"hits": state["hits"]})


app = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"]),
                        Route("/control/{action}", control, methods=["POST"])])


def start(issuer: str, audience: str) -> tuple[Any, str]:
    """Run this app under uvicorn on a free loopback port; returns (Service, base URL)."""
    import sys

    from tests.support.processes import Service, free_port

    port = free_port()
    service = Service("resource", [sys.executable, "-m", "uvicorn", "tests.support.resource_server:app",
                                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                      {"RS_ISSUER": issuer, "RS_AUDIENCE": audience})
    base = f"http://127.0.0.1:{port}"
    service.wait_http(base + "/hello")
    return service, base
