"""Errors in the OAuth shape (`{"error", "error_description"}`, RFC 6749 section 5.2 /
RFC 6750 section 3) for every Signet endpoint, instead of FastAPI's `{"detail": ...}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.error, "error_description": exc.description},
                        status_code=exc.status, headers={"Cache-Control": "no-store", **exc.headers})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _handle)
