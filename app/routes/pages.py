"""Pages for humans: the token inspector (/inspect) and the key ring timeline (/keyring).

Static HTML and JS shipped in app/static and served by the issuer itself, so the strict
CSP (`default-src 'self'`) holds: no CDN, no inline script or style. The inspector decodes
and verifies a pasted token inside the browser with WebCrypto; the only requests the pages
make are for the public JWKS and /keyring.json. Nothing here sends CORS headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from ..asgi.openapi_docs import NOT_MODIFIED
from ..keys.jwks import etag_matches, strong_etag

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
PAGES = {"/inspect": "inspect.html", "/keyring": "keyring.html"}
ASSETS = ("jws.js", "inspect.js", "keyring.js", "pages.css", "favicon.svg")


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, name: str) -> StaticFile:
        body = (STATIC_DIR / name).read_bytes()
        return cls(body, _MEDIA_TYPES[Path(name).suffix], strong_etag(body))

    def response(self, request: Request) -> Response:
        headers = {**SECURITY_HEADERS, "ETag": self.etag}
        if etag_matches(request.headers.get("if-none-match"), self.etag):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


# Read once: a fixed allow-list, so no request path ever reaches the file system.
_FILES = {name: StaticFile.load(name) for name in (*PAGES.values(), *ASSETS)}


@router.get("/inspect", tags=["pages"], summary="Token inspector (decodes and verifies in the browser)",
            response_class=HTMLResponse, responses=NOT_MODIFIED)
async def inspect_page(request: Request) -> Response:
    return _FILES[PAGES["/inspect"]].response(request)


@router.get("/keyring", tags=["pages"], summary="Key ring timeline", response_class=HTMLResponse,
            responses=NOT_MODIFIED)
async def keyring_page(request: Request) -> Response:
    return _FILES[PAGES["/keyring"]].response(request)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon(request: Request) -> Response:
    """The SVG icon, also where browsers look without a <link rel="icon"> (JSON views): no 404."""
    return _FILES["favicon.svg"].response(request)


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        raise HTTPException(404)
    return _FILES[name].response(request)
