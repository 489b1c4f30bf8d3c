"""The FastAPI subclass both Signet services use (the issuer and the demo service).

A start-up failure caused by configuration is reported by uvicorn as one line naming the
setting, instead of Starlette's traceback of the lifespan.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


class SignetApp(FastAPI):
    """FastAPI whose start-up failures caused by configuration are reported as one line."""

    startup_error: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await super().__call__(scope, receive, send)
            return

        async def send_short_failure(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed" and self.startup_error:
                message = {**message, "message": f"Signet cannot start: {self.startup_error}"}
            await send(message)

        await super().__call__(scope, receive, send_short_failure)
