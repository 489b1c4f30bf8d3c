"""Admin API for the key ring. Off (404) unless SIGNET_ADMIN_TOKEN is set; then every call
needs `Authorization: Bearer <admin token>` (compared in constant time)."""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from signet.rotation import RotationRefused, Rotator

from ..asgi.openapi_docs import ADMIN_RESPONSES
from ..keys.ring_view import record_view
from ..keys.rotation import rotation_policy
from ..token.oauth_errors import OAuthError

router = APIRouter(prefix="/admin", tags=["admin"], responses=ADMIN_RESPONSES)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def require_admin(request: Request) -> None:
    expected = request.app.state.settings.admin_token
    if expected is None:
        raise OAuthError("not_found", "the admin API is off (set SIGNET_ADMIN_TOKEN)", 404)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    # Hashing first makes the comparison constant-time whatever the lengths.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            _digest(presented), _digest(expected.get_secret_value())):
        raise OAuthError("invalid_token", "admin token required", 401,
                         {"WWW-Authenticate": 'Bearer realm="signet-admin", error="invalid_token"'})


def _rotator(request: Request) -> Rotator:
    rotator: Rotator | None = request.app.state.rotator
    if rotator is None:
        raise OAuthError("unsupported", "this key backend has a fixed key; it does not rotate", 409)
    return rotator


def _ring(request: Request, rotator: Rotator) -> JSONResponse:
    policy = rotation_policy(request.app.state.settings)
    return JSONResponse({"keys": [record_view(r, policy) for r in rotator.backend.snapshot.records]},
                        headers={"Cache-Control": "no-store"})


@router.get("/keys", dependencies=[Depends(require_admin)], summary="The key ring")
async def list_keys(request: Request) -> JSONResponse:
    rotator = _rotator(request)
    await rotator.reload()
    return _ring(request, rotator)


@router.post("/keys/rotate", dependencies=[Depends(require_admin)], summary="Start a rotation now")
async def rotate(request: Request, force: bool = False) -> JSONResponse:
    """409 while a key is pending (unless `?force=true`, which replaces it) or when the cap
    on published keys is reached; else the ring, with the new key as `rotated`."""
    rotator = _rotator(request)
    try:
        record = await rotator.rotate_now(force=force)
    except RotationRefused as exc:
        raise OAuthError("conflict", str(exc), 409) from None
    response = _ring(request, rotator)
    body = json.loads(response.body)
    body["rotated"] = record_view(record, rotation_policy(request.app.state.settings))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/keys/{kid}/retire", dependencies=[Depends(require_admin)],
             summary="Emergency: stop signing and publishing a key now")
async def retire(kid: str, request: Request) -> JSONResponse:
    rotator = _rotator(request)
    await rotator.reload()
    if kid not in {r.kid for r in rotator.backend.snapshot.records}:
        raise OAuthError("not_found", f"no key {kid!r}", 404)
    await rotator.retire(kid)
    await rotator.converge()  # never leave the issuer without a signing key
    return _ring(request, rotator)
