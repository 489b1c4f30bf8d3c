"""Liveness and readiness for orchestrators."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from signet.keys.base import KeyBackend, KeyBackendError

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="Alive: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="Ready: the signing key is reachable",
            responses={503: {"description": "Not ready: the signing key cannot be reached"}})
async def readyz(request: Request) -> JSONResponse:
    backend: KeyBackend = request.app.state.keys
    timeout = request.app.state.settings.readiness_timeout_seconds
    try:
        await asyncio.wait_for(backend.check_reachable(), timeout)
    except TimeoutError:
        return JSONResponse({"status": "unready", "reason": "signing key check timed out"}, 503)
    except KeyBackendError as exc:
        return JSONResponse({"status": "unready", "reason": str(exc)}, 503)
    key = backend.signing_key().published
    return JSONResponse({"status": "ready", "backend": backend.name, "kid": key.kid,
                         "alg": key.alg.name})
