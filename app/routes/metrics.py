"""GET /metrics: the issuer's Prometheus metrics in the text exposition format.

On the public listener, like /healthz: it holds counts and key ids (public in the JWKS
anyway), never a secret. SIGNET_METRICS_ENABLED=false turns it off (404) for deployments
that would rather not show their traffic figures to callers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..asgi.openapi_docs import Responses, errors
from ..token.oauth_errors import OAuthError

router = APIRouter()

METRICS_PATH = "/metrics"


EXPOSITION: Responses = {
    200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
          "description": "Prometheus text exposition format"},
    **errors(404)}


@router.get(METRICS_PATH, tags=["health"], summary="Prometheus metrics (text format)",
            responses=EXPOSITION)
async def metrics(request: Request) -> Response:
    if not request.app.state.settings.metrics_enabled:
        raise OAuthError("not_found", "metrics are off (SIGNET_METRICS_ENABLED=false)", 404)
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
