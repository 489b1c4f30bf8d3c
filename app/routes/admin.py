"""Admin API for the key ring. Off (404) unless SIGNET_ADMIN_TOKEN is set; then every call
needs `Authorization: Bearer <admin token>` (compared in constant time).

Every call is one audit line on the `signet.admin` logger: the action, its outcome, the
caller's address, the request id and `credential`, the first 12 hex digits of the admin
token's SHA-256 (tells which token was used after a rotation of it; never the token)."""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from signet.rotation import KeyAlreadyRetired, RotationRefused, Rotator

from ..asgi.openapi_docs import ADMIN_RESPONSES
from ..keys.ring_view import operator_view
from ..keys.rotation import rotation_policy
from ..token.oauth_errors import OAuthError

router = APIRouter(prefix="/admin", tags=["admin"], responses=ADMIN_RESPONSES)
log = logging.getLogger("signet.admin")
FINGERPRINT_HEX_DIGITS = 12


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def fingerprint(credential: str) -> str:
    """Which admin token was used, for the audit line: a prefix of its SHA-256."""
    return _digest(credential).hex()[:FINGERPRINT_HEX_DIGITS]


def _action(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", None) or request.url.path)


def audit(request: Request, outcome: str, **fields: object) -> None:
    client = request.client
    log.info("admin action", extra={"fields": {
        "event": "admin_action", "action": _action(request), "outcome": outcome,
        "method": request.method, "path": request.url.path,
        "source": client.host if client else None,
        "credential": getattr(request.state, "admin_credential", None), **fields}})


async def require_admin(request: Request) -> None:
    expected = request.app.state.settings.admin_token
    if expected is None:
        raise OAuthError("not_found", "the admin API is off (set SIGNET_ADMIN_TOKEN)", 404)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    # Hashing first makes the comparison constant-time whatever the lengths.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            _digest(presented), _digest(expected.get_secret_value())):
        audit(request, "unauthenticated")  # no fingerprint of what a stranger presented
        raise OAuthError("invalid_token", "admin token required", 401,
                         {"WWW-Authenticate": 'Bearer realm="signet-admin", error="invalid_token"'})
    request.state.admin_credential = fingerprint(presented)


def _rotator(request: Request) -> Rotator:
    rotator: Rotator | None = request.app.state.rotator
    if rotator is None:
        raise OAuthError("unsupported", "this key backend has a fixed key; it does not rotate", 409)
    return rotator


def _audited_rotator(request: Request) -> Rotator:
    try:
        return _rotator(request)
    except OAuthError:
        audit(request, "unsupported")
        raise


def _views(request: Request, rotator: Rotator) -> list[dict[str, object]]:
    return operator_view(rotator.backend.snapshot.records,
                         rotation_policy(request.app.state.settings), rotator.clock())


def _ring(request: Request, rotator: Rotator) -> JSONResponse:
    return JSONResponse({"keys": _views(request, rotator)}, headers={"Cache-Control": "no-store"})


@router.get("/keys", dependencies=[Depends(require_admin)], summary="The key ring")
async def list_keys(request: Request) -> JSONResponse:
    rotator = _audited_rotator(request)
    await rotator.reload()
    audit(request, "ok")
    return _ring(request, rotator)


@router.post("/keys/rotate", dependencies=[Depends(require_admin)], summary="Start a rotation now")
async def rotate(request: Request, force: bool = False) -> JSONResponse:
    """409 while a key is pending (unless `?force=true`, which replaces it) or when the cap
    on published keys is reached; else the ring, with the new key as `rotated`."""
    rotator = _audited_rotator(request)
    try:
        record = await rotator.rotate_now(force=force)
    except RotationRefused as exc:
        audit(request, "refused", force=force, reason=str(exc))
        raise OAuthError("conflict", str(exc), 409) from None
    audit(request, "ok", force=force, kid=record.kid)
    views = _views(request, rotator)
    rotated = next(v for v in views if v["kid"] == record.kid)
    return JSONResponse({"keys": views, "rotated": rotated}, headers={"Cache-Control": "no-store"})


@router.post("/keys/{kid}/retire", dependencies=[Depends(require_admin)],
             summary="Emergency: stop signing and publishing a key now")
async def retire(kid: str, request: Request) -> JSONResponse:
    rotator = _audited_rotator(request)
    await rotator.reload()
    if kid not in {r.kid for r in rotator.backend.snapshot.records}:
        audit(request, "not_found", kid=kid[:64])
        raise OAuthError("not_found", f"no key {kid!r}", 404)
    try:
        await rotator.retire(kid)
    except KeyAlreadyRetired as exc:
        audit(request, "refused", kid=kid, reason=str(exc))
        raise OAuthError("conflict", str(exc), 409) from None
    audit(request, "ok", kid=kid)
    await rotator.converge()  # never leave the issuer without a signing key
    return _ring(request, rotator)
