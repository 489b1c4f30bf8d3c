"""The issuer service: `uvicorn app.main:app`.

Settings are read and keys opened in the lifespan, not at import, so a bad setting
ends start-up with one line naming it instead of an import traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from app.backends import build_backend
from app.jwks import JwksDocument, strong_etag
from app.logs import configure_logging
from app.oauth_errors import install_error_handler
from app.rotation import build_rotator, change_announcer, rotating
from app.routes import admin, health, keyring, pages, token, well_known
from app.routes.token import TokenEndpoint
from app.settings import ConfigurationError, Settings, load_settings
from app.startup import SignetApp
from signet import __version__
from signet.keys.base import KeyBackend, KeyConfigurationError
from signet.signer import JwsSigner

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
                configure_logging(active_settings.log_level)
                keys = backend or build_backend(active_settings)
                await keys.open()
                stack.push_async_callback(keys.aclose)
                app.state.settings = active_settings
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
            except (ConfigurationError, KeyConfigurationError) as exc:
                app.startup_error = str(exc)
                raise
            _log_ready(app, keys, active_settings)
            yield

    app = SignetApp(title="Signet issuer", version=__version__, lifespan=lifespan,
                    summary="Sign centrally, verify everywhere: JWT access tokens signed in KMS.")
    app.include_router(well_known.router)
    app.include_router(health.router)
    app.include_router(token.router)
    app.include_router(admin.router)
    app.include_router(keyring.router)
    app.include_router(pages.router)
    install_error_handler(app)
    app.add_middleware(token.DirectTokenRoute)
    return app


def _log_ready(app: FastAPI, keys: KeyBackend, settings: Settings) -> None:
    signing = keys.signing_key().published
    log.info("issuer ready", extra={"fields": {
        "issuer": settings.issuer_url, "backend": keys.name, "alg": signing.alg.name,
        "kid": signing.kid, "published_kids": list(app.state.jwks.kids),
        "rotation": "on" if app.state.rotator else "off"}})


app = create_app()
