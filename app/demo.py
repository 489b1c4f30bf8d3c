"""A downstream service protected by Signet's verifier: `uvicorn app.demo:app --port 8001`.

Configured by SIGNET_VERIFIER_* (see signet.verifier.settings), SIGNET_REDIS_URL and
SIGNET_CACHE_INTEGRITY_KEY. Settings are read in the lifespan, so a bad value stops
start-up with one line naming the variable, like the issuer.

- `GET /healthz`: no token needed.
- `GET /readyz`: no token needed; the verifier's readiness (signet.verifier.readiness):
  200 while every issuer has usable keys (`degraded` when an issuer is unreachable and
  its last keys are used), 503 once some issuer has none. With the verifier's counters.
- `GET /whoami`: the verified claims of the caller's token.
- `GET /admin`: requires the scope `admin` (403 `insufficient_scope` otherwise).
- `GET /metrics`: the verifier's Prometheus metrics (signet.verifier.metrics), no token needed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from signet import __version__
from signet.verifier import Claims, SignetAuthMiddleware, Verifier, VerifierConfigError
from signet.verifier.fastapi import install_error_handler, require_scopes, require_token
from signet.verifier.metrics import VerifierCollector

from .asgi.request_id import RequestIdMiddleware
from .asgi.startup import SignetApp  # the one-line start-up failure, shared with the issuer
from .settings import log_format, log_level
from .telemetry.logs import configure_from_environment, configure_logging

PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")


def demo_log_level(environ: Mapping[str, str]) -> str:
    """SIGNET_LOG_LEVEL, read as the issuer reads it (app.settings.log_level)."""
    try:
        return log_level(environ.get("SIGNET_LOG_LEVEL", "info"))
    except ValueError as exc:
        raise VerifierConfigError("SIGNET_LOG_LEVEL", str(exc)) from None


def demo_log_format(environ: Mapping[str, str]) -> str:
    """SIGNET_LOG_FORMAT, read as the issuer reads it (app.settings.log_format)."""
    try:
        return log_format(environ.get("SIGNET_LOG_FORMAT", "json"))
    except ValueError as exc:
        raise VerifierConfigError("SIGNET_LOG_FORMAT", str(exc)) from None


def create_demo_app(verifier: Verifier | None = None) -> SignetApp:
    @asynccontextmanager
    async def lifespan(app: SignetApp) -> AsyncIterator[None]:
        try:
            level = demo_log_level(os.environ)
            log_format = demo_log_format(os.environ)
            app.state.verifier = verifier or Verifier.from_env()
        except VerifierConfigError as exc:
            app.startup_error = str(exc)
            raise
        configure_logging(level, "text" if log_format == "text" else "json")
        yield  # the middleware warms the key cache after this and closes it on shutdown

    app = SignetApp(title="Signet demo service", version=__version__, lifespan=lifespan,
                    summary="A downstream service that accepts Signet access tokens.")
    app.add_middleware(SignetAuthMiddleware, verifier=lambda: app.state.verifier,
                       exclude_paths=PUBLIC_PATHS)
    app.add_middleware(RequestIdMiddleware)  # outside the auth check: refusals carry the id too
    install_error_handler(app)  # 403s of require_scopes: the middleware's flat body

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    registry = CollectorRegistry()
    registry.register(VerifierCollector(lambda: app.state.verifier))

    @app.get("/metrics", tags=["health"], summary="The verifier's Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        readiness = app.state.verifier.readiness()
        return JSONResponse(readiness.to_dict(), status_code=200 if readiness.ready else 503,
                            headers={"Cache-Control": "no-store"})

    @app.get("/whoami", summary="The verified claims of your token")
    async def whoami(claims: Claims = Depends(require_token())) -> dict[str, Any]:  # noqa: B008
        return claims.to_dict()

    @app.get("/admin", summary="Needs the scope `admin`")
    async def admin(claims: Claims = Depends(require_scopes("admin"))) -> dict[str, Any]:  # noqa: B008
        return {"admin": True, "sub": claims.subject}

    return app


configure_from_environment()  # before uvicorn's first line, when it imports this module
app = create_demo_app()
