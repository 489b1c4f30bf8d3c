"""The FastAPI subclass both Signet services use (the issuer and the demo service).

A start-up failure caused by configuration is reported by uvicorn as one line naming the
setting, instead of Starlette's traceback of the lifespan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

# How long "no OpenTelemetry provider is configured" is believed before it is asked again.
TELEMETRY_RECHECK_SECONDS = 1.0


def remembered(enabled: Callable[[], bool], clock: Callable[[], float] = time.monotonic,
               recheck: float = TELEMETRY_RECHECK_SECONDS) -> Callable[[], bool]:
    """FastAPI asks on every request whether an OpenTelemetry provider is configured (three
    provider lookups, each reading environment variables when none is set): several µs per
    token. A provider, once set, cannot be unset, so True is kept; False is asked again after
    `recheck` seconds, so a provider configured after start-up is still picked up."""
    state = {"enabled": False, "until": float("-inf")}

    def cached() -> bool:
        if state["enabled"]:
            return True
        now = clock()
        if now >= state["until"]:
            state["enabled"] = bool(enabled())
            state["until"] = now + recheck
        return bool(state["enabled"])

    return cached


class SignetApp(FastAPI):
    """FastAPI whose start-up failures caused by configuration are reported as one line."""

    startup_error: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        telemetry = getattr(self, "_native_telemetry", None)
        if telemetry is not None:  # FastAPI's native OpenTelemetry support (0.16x)
            telemetry.enabled = remembered(telemetry.enabled)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await super().__call__(scope, receive, send)
            return

        async def send_short_failure(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed" and self.startup_error:
                message = {**message, "message": f"Signet cannot start: {self.startup_error}"}
            await send(message)

        await super().__call__(scope, receive, send_short_failure)
