"""GET /metrics: the issuer's Prometheus metrics in the text exposition format.

On the public listener, like /healthz: it holds counts and key ids (public in the JWKS
anyway), never a secret. SIGNET_METRICS_ENABLED=false turns it off (404) for deployments
that would rather not show their traffic figures to callers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter()

METRICS_PATH = "/metrics"


@router.get(METRICS_PATH, tags=["health"], summary="Prometheus metrics (text format)")
async def metrics(request: Request) -> Response:
    if not request.app.state.settings.metrics_enabled:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
