"""GET /keyring.json: the published keys and their timeline, for the /keyring page.

Public and read-only, like the JWKS it explains: kid, alg, state and times, never a key's
backend reference (a file name or a KMS ARN), and only keys verifiers can see (retired keys
are left out). It shows the ring as this replica last loaded it (every
SIGNET_KEY_RING_RELOAD_SECONDS), so a request costs no file read or KMS call.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from signet.keys.base import KeyBackend
from signet.rotation import Rotator

from ..keys.ring_view import rfc3339, ring_view
from ..keys.rotation import rotation_policy

router = APIRouter()

KEYRING_JSON_PATH = "/keyring.json"
_PLANNED_FIELDS = ("activates_at", "successor_activates_at", "unpublish_at")


def fixed_key_view(backend: KeyBackend) -> list[dict[str, object]]:
    """A backend without a ring (a fixed KMS key): its keys, with no history to tell."""
    signing = backend.signing_key().published.kid
    return [{"kid": key.kid, "alg": key.alg.name, "state": "active" if key.kid == signing else "published",
             "created_at": None, "activated_at": None, "retiring_at": None, "retired_at": None,
             **dict.fromkeys(_PLANNED_FIELDS), "next": None} for key in backend.published_keys()]


def keyring_document(request: Request, now: float) -> dict[str, object]:
    settings = request.app.state.settings
    rotator: Rotator | None = request.app.state.rotator
    document: dict[str, object] = {"issuer": settings.issuer_url, "now": rfc3339(now),
                                   "signing_alg": settings.signing_alg, "rotation": None}
    if rotator is None:
        document["keys"] = fixed_key_view(request.app.state.keys)
        return document
    policy = rotation_policy(settings)
    document["rotation"] = {"publish_lead_seconds": policy.publish_lead,
                            "retire_after_seconds": policy.retire_after,
                            "rotation_period_seconds": policy.rotation_period}
    document["keys"] = ring_view(rotator.backend.snapshot.records, policy, now, published_only=True)
    return document


@router.get(KEYRING_JSON_PATH, tags=["pages"], summary="Published keys, their states and timeline")
async def keyring_json(request: Request) -> JSONResponse:
    return JSONResponse(keyring_document(request, time.time()), headers={"Cache-Control": "no-cache"})
