"""The issuer service: `uvicorn app.main:app`.

Settings are read and keys opened in the lifespan, not at import, so a bad setting
ends start-up with one line naming it instead of an import traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from signet import __version__
from signet.keys.base import KeyBackend, KeyConfigurationError
from signet.signer import JwsSigner

from .asgi.direct import DirectRoute
from .asgi.openapi_docs import REQUEST_LIMITS
from .asgi.request_id import RequestIdMiddleware
from .asgi.request_limits import Limits, RequestLimits
from .asgi.startup import SignetApp
from .keys.backends import build_backend
from .keys.delegated import delegating
from .keys.jwks import JwksDocument, strong_etag
from .keys.rotation import build_rotator, change_announcer, rotating
from .routes import admin, health, keyring, metrics, pages, token, well_known
from .routes.token import TokenEndpoint
from .settings import ConfigurationError, Settings, load_settings
from .telemetry.logs import configure_from_environment, configure_logging
from .telemetry.metrics import IssuerMetrics, ring_keys
from .token.oauth_errors import install_error_handler

log = logging.getLogger("signet.issuer")


def publish(app: FastAPI, backend: KeyBackend, settings: Settings) -> None:
    """(Re)compute the served documents from the backend's current keys."""
    document = JwksDocument.from_backend(backend)
    app.state.jwks = document
    app.state.discovery_body = well_known.discovery_bytes(settings, document)
    app.state.discovery_etag = strong_etag(app.state.discovery_body)


def create_app(settings: Settings | None = None, backend: KeyBackend | None = None) -> SignetApp:
    @asynccontextmanager
    async def lifespan(app: SignetApp) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                active_settings = settings or load_settings()
                configure_logging(active_settings.log_level, active_settings.log_format)
                keys = backend or build_backend(active_settings)
                app.state.metrics.watch_backend(keys)
                await keys.open()
                stack.push_async_callback(keys.aclose)
                app.state.settings = active_settings
                app.state.request_limits = request_limits(active_settings)  # once, not per request
                app.state.keys = keys
                app.state.signer = JwsSigner(keys)
                app.state.token_endpoint = TokenEndpoint.create(active_settings, app.state.signer)
                stack.push_async_callback(app.state.token_endpoint.aclose)
                publish(app, keys, active_settings)
                announce = await stack.enter_async_context(change_announcer(active_settings))

                async def keys_changed() -> None:
                    publish(app, keys, active_settings)
                    if announce is not None:
                        await announce()

                app.state.rotator = build_rotator(active_settings, keys, on_change=keys_changed)
                await stack.enter_async_context(rotating(app.state.rotator, active_settings))
                await stack.enter_async_context(delegating(keys, keys_changed))
            except (ConfigurationError, KeyConfigurationError) as exc:
                app.startup_error = str(exc)
                raise
            _log_ready(app, keys, active_settings)
            yield

    # No /docs or /redoc: they load script from a CDN onto the issuer's origin.
    app = SignetApp(title="Signet issuer", version=__version__, lifespan=lifespan,
                    summary="Sign centrally, verify everywhere: JWT access tokens signed in KMS.",
                    docs_url=None, redoc_url=None)
    for module in (well_known, health, token, admin, keyring, pages, metrics):
        app.include_router(module.router, responses=REQUEST_LIMITS)
    app.state.metrics = IssuerMetrics(lambda: ring_keys(app.state),
                                      lambda: getattr(app.state, "keys", None))
    install_error_handler(app)
    # The two hot paths past FastAPI's router (app.asgi.direct); JWKS innermost, since
    # /token never passes it.
    app.add_middleware(DirectRoute, method="GET", path=well_known.JWKS_PATH, handler=well_known.jwks)
    app.add_middleware(DirectRoute, method="POST", path=well_known.TOKEN_PATH, handler=token.token)
    app.add_middleware(RequestLimits, limits=lambda: app.state.request_limits)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response and log line has it
    return app


def request_limits(settings: Settings) -> Limits:
    return Limits(header_bytes=settings.max_header_bytes, body_bytes=settings.token_max_body_bytes)


def _log_ready(app: FastAPI, keys: KeyBackend, settings: Settings) -> None:
    signing = keys.signing_key().published
    log.info("issuer ready", extra={"fields": {
        "issuer": settings.issuer_url, "backend": keys.name, "alg": signing.alg.name,
        "kid": signing.kid, "published_kids": list(app.state.jwks.kids),
        "rotation": "on" if app.state.rotator else "off"}})


configure_from_environment()  # before uvicorn's first line, when it imports this module
app = create_app()
