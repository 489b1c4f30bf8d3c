"""GET /inspect in headless Chromium: paste a token, see its header, claims, expiry countdown,
the published key that signed it and the WebCrypto verdict; a tampered token, a token of
another issuer and garbage are each called what they are. The token never leaves the page:
every request the page makes is recorded and checked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Request

from signet.algorithms import ALGORITHMS
from tests.interop.browser import chromium_page, screenshot
from tests.interop.issuers import CLIENT_ID, IssuedToken, tamper_signature

# Waits use selectors, not wait_for_function: the page's CSP forbids the eval that
# Playwright's function polling relies on (and any CSP violation fails the test).
SETTLED = "#verdict:not([data-result='checking']):not([data-result='empty'])"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, list[str]]]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


def inspect(page: Page, issuer: str, token: str) -> str:
    """Open the issuer's inspector, paste `token`, wait for the verdict; returns its result."""
    page.goto(issuer + "/inspect")
    page.fill("#token", token)
    return str(page.wait_for_selector(SETTLED).get_attribute("data-result"))


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_inspector_verifies_and_explains_a_signet_token(
        browser: tuple[Page, list[str]], issued: dict[str, IssuedToken], alg: str) -> None:
    page, errors = browser
    errors.clear()
    token = issued[alg]
    requests: list[Request] = []

    def record(request: Request) -> None:
        requests.append(request)

    page.on("request", record)
    try:
        assert inspect(page, token.issuer, token.token) == "verified", page.inner_text("#verdict")
    finally:
        page.remove_listener("request", record)
    kid = httpx.get(token.jwks_uri).json()["keys"][0]["kid"]
    assert page.get_attribute("#key", "data-kid") == kid
    assert page.inner_text("#key") == f"{kid} ({alg}, active)"
    assert json.loads(page.inner_text("#header")) == {"alg": alg, "kid": kid, "typ": "at+jwt"}
    claims = json.loads(page.inner_text("#claims"))
    assert claims["sub"] == CLIENT_ID and claims["aud"] == token.audience
    assert page.inner_text("#issuer") == f"{token.issuer} (this issuer)"
    remaining = int(page.get_attribute("#expiry", "data-remaining") or "0")
    assert 0 < remaining <= claims["exp"] - claims["iat"]
    assert page.inner_text("#expiry").startswith("expires in ")
    if alg == "ES256":
        screenshot(page, "inspect-verified")
    # No token in any request, and no request but the page itself, its assets, the JWKS
    # and keyring.json, all on the issuer's origin.
    paths = {r.url.removeprefix(token.issuer) for r in requests}
    assert paths <= {"/inspect", "/static/pages.css", "/static/inspect.js", "/static/jws.js",
                     "/.well-known/jwks.json", "/keyring.json", "/static/favicon.svg"}, paths
    assert not any(token.token in r.url or token.token in (r.post_data or "") for r in requests)
    assert errors == []  # a CSP violation, or a missing favicon, would show here


def test_inspector_says_when_a_signature_does_not_verify(browser: tuple[Page, list[str]],
                                                          issued: dict[str, IssuedToken]) -> None:
    page, _ = browser
    token = issued["PS256"]
    assert inspect(page, token.issuer, tamper_signature(token.token)) == "invalid"
    assert "does NOT verify" in page.inner_text("#verdict")
    screenshot(page, "inspect-tampered")


def test_inspector_names_tokens_it_has_no_key_for(browser: tuple[Page, list[str]],
                                                  issued: dict[str, IssuedToken]) -> None:
    page, _ = browser
    other = issued["RS256"].token  # signed by another issuer's key
    assert inspect(page, issued["ES256"].issuer, other) == "unknown-key"
    assert "not published here" in page.inner_text("#key")
    assert "not this issuer" in page.inner_text("#issuer")
    assert inspect(page, issued["ES256"].issuer, "not.a-token") == "malformed"


@pytest.mark.parametrize("path", ["/inspect", "/keyring"])
def test_pages_send_strict_security_headers(issued: dict[str, IssuedToken], path: str) -> None:
    response = httpx.get(issued["ES256"].issuer + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self';") and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp  # no inline code, no other origin
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "access-control-allow-origin" not in response.headers
    assert "<script>" not in response.text and "style=" not in response.text


def test_static_assets_are_an_allow_list(issued: dict[str, IssuedToken]) -> None:
    base = issued["ES256"].issuer
    script = httpx.get(base + "/static/inspect.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["x-content-type-options"] == "nosniff"
    again = httpx.get(base + "/static/inspect.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    for path in ["/static/inspect.html", "/static/..%2Fmain.py", "/static/missing.js"]:
        assert httpx.get(base + path).status_code == 404, path
