"""Browser-facing headers over real HTTP: the HTML pages are locked down (CSP, nosniff, no
framing, no referrer) and only the well-known documents are readable cross-origin."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.processes import RunningIssuer

ADMIN_TOKEN = "admin-secret-for-headers-0123456789abcdef"
ORIGIN = {"Origin": "https://evil.example"}


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> str:
    return make_issuer({"SIGNET_ADMIN_TOKEN": ADMIN_TOKEN}).base


@pytest.mark.parametrize("path", ["/inspect", "/keyring", "/static/inspect.js", "/static/pages.css",
                                  "/favicon.ico"])
def test_pages_carry_security_headers(issuer: str, path: str) -> None:
    response = httpx.get(issuer + path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    csp = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";")}
    assert csp["default-src"] == "default-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'"
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_well_known_documents_are_readable_cross_origin(issuer: str, path: str) -> None:
    assert httpx.get(issuer + path, headers=ORIGIN).headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("POST", "/token", {}),
    ("OPTIONS", "/token", {"Access-Control-Request-Method": "POST"}),
    ("GET", "/admin/keys", {}),
    ("GET", "/admin/keys", {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    ("OPTIONS", "/admin/keys", {"Access-Control-Request-Method": "GET"}),
    ("GET", "/keyring.json", {}),
    ("GET", "/healthz", {}),
    ("GET", "/readyz", {}),
    ("GET", "/inspect", {}),
])
def test_nothing_else_is_readable_cross_origin(issuer: str, method: str, path: str,
                                               headers: dict[str, str]) -> None:
    """A browser on another origin can neither read these answers nor preflight a request."""
    response = httpx.request(method, issuer + path, headers={**ORIGIN, **headers})
    assert response.status_code < 500
    assert not [h for h in response.headers if h.startswith("access-control-")], response.headers



def test_no_third_party_script_pages_only_the_openapi_document(issuer: str) -> None:
    """FastAPI's /docs and /redoc would pull Swagger UI / ReDoc from a CDN onto the issuer's
    origin; they are off, the OpenAPI document stays."""
    assert httpx.get(issuer + "/docs").status_code == 404
    assert httpx.get(issuer + "/redoc").status_code == 404
    assert httpx.get(issuer + "/openapi.json").json()["info"]["title"] == "Signet issuer"
