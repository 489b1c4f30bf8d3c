"""GET /keyring.json: the published keys and their timeline, for the /keyring page.

Public and read-only, like the JWKS it explains: kid, alg, state and times, never a key's
backend reference (a file name or a KMS ARN), and only keys verifiers can see (retired keys
are left out). It shows the ring as this replica last loaded it (every
SIGNET_KEY_RING_RELOAD_SECONDS), so a request costs no file read or KMS call.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from signet.keyring import KeyRecord, RotationPolicy, planned_step
from signet.keys.base import KeyBackend
from signet.rotation import Rotator

from ..keys.rotation import rotation_policy

router = APIRouter()

KEYRING_JSON_PATH = "/keyring.json"
_PLANNED_FIELDS = {"activates": "activates_at", "unpublished": "unpublish_at",
                   "successor_activates": "successor_activates_at"}


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def key_view(record: KeyRecord, policy: RotationPolicy) -> dict[str, str | None]:
    """One published key: what happened to it and what is planned next (null: not so)."""
    view: dict[str, str | None] = {
        "kid": record.kid, "alg": record.alg, "state": record.state.value,
        "created_at": _iso(record.created_at), "activated_at": _iso(record.activated_at),
        "retiring_at": _iso(record.retiring_at),
        **dict.fromkeys(_PLANNED_FIELDS.values()),
    }
    step = planned_step(record, policy)
    if step is not None:
        view[_PLANNED_FIELDS[step.event]] = _iso(step.at)
    return view


def fixed_key_view(backend: KeyBackend) -> list[dict[str, str | None]]:
    """A backend without a ring (a fixed KMS key): its keys, with no history to tell."""
    signing = backend.signing_key().published.kid
    return [{"kid": key.kid, "alg": key.alg.name, "state": "active" if key.kid == signing else "published",
             "created_at": None, "activated_at": None, "retiring_at": None,
             **dict.fromkeys(_PLANNED_FIELDS.values())} for key in backend.published_keys()]


def keyring_document(request: Request, now: float) -> dict[str, object]:
    settings = request.app.state.settings
    rotator: Rotator | None = request.app.state.rotator
    document: dict[str, object] = {"issuer": settings.issuer_url, "now": _iso(now),
                                   "signing_alg": settings.signing_alg, "rotation": None}
    if rotator is None:
        document["keys"] = fixed_key_view(request.app.state.keys)
        return document
    policy = rotation_policy(settings)
    document["rotation"] = {"publish_lead_seconds": policy.publish_lead,
                            "retire_after_seconds": policy.retire_after,
                            "rotation_period_seconds": policy.rotation_period}
    document["keys"] = [key_view(r, policy) for r in rotator.backend.snapshot.records if r.published]
    return document


@router.get(KEYRING_JSON_PATH, tags=["pages"], summary="Published keys, their states and timeline")
async def keyring_json(request: Request) -> JSONResponse:
    return JSONResponse(keyring_document(request, time.time()), headers={"Cache-Control": "no-cache"})
