"""A browser on another origin verifies Signet tokens: headless Chromium loads a page from a
static server on one loopback port, fetches each issuer's JWKS (other ports: other origins)
with CORS, and verifies a token of every algorithm with WebCrypto. It breaks if the JWKS
loses its CORS header (the fetch is refused, as the control fetch of a CORS-less path
shows) or if the JWK encoding drifts (WebCrypto imports it strictly, as the control import
of a padded JWK shows)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from signet.algorithms import ALGORITHMS
from tests.interop.browser import chromium_page, screenshot
from tests.interop.issuers import IssuedToken, tamper_signature
from tests.support.processes import ROOT, Service, free_port

WEB_DIR = Path(__file__).parent / "web"
JWS_JS = ROOT / "app" / "static" / "jws.js"


@pytest.fixture(scope="module")
def relying_party(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test page and the issuer's jws.js, served by a plain static server: another origin."""
    site = tmp_path_factory.mktemp("site")
    for source in [*WEB_DIR.iterdir(), JWS_JS]:
        shutil.copy(source, site / source.name)
    port = free_port()
    service = Service("static", [sys.executable, "-m", "http.server", str(port),
                                 "--bind", "127.0.0.1", "--directory", str(site)])
    origin = f"http://127.0.0.1:{port}"
    service.wait_http(origin + "/index.html")
    yield origin
    service.stop()


@pytest.fixture(scope="module")
def page(relying_party: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, list[str]]]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as (page, errors):
        page.goto(relying_party + "/index.html")
        page.wait_for_function("typeof window.verifyAcrossOrigins === 'function'")
        yield page, errors


def test_every_algorithm_verifies_in_the_browser_across_origins(
        page: tuple[Page, list[str]], issued: dict[str, IssuedToken], relying_party: str) -> None:
    browser, _ = page
    cases = [t.case() for t in issued.values()]
    cases += [t.case(f"{t.alg}-tampered", tamper_signature(t.token)) for t in issued.values()]
    assert all(not c["jwks_uri"].startswith(relying_party) for c in cases)
    results: dict[str, Any] = browser.evaluate("cases => window.verifyAcrossOrigins(cases)", cases)
    screenshot(browser, "browser-webcrypto-cross-origin")
    for alg, token in issued.items():
        kid = httpx.get(token.jwks_uri).json()["keys"][0]["kid"]
        assert results[alg] == {"ok": True, "kid": kid}, (alg, results[alg])
        # Refused by WebCrypto's verify (ok false), not by an error on the way there.
        assert results[f"{alg}-tampered"] == {"ok": False, "kid": kid}, (alg, results[f"{alg}-tampered"])
    assert set(results) == {*ALGORITHMS, *(f"{alg}-tampered" for alg in ALGORITHMS)}


def test_the_browser_enforces_cors_on_this_page(page: tuple[Page, list[str]],
                                                 issued: dict[str, IssuedToken]) -> None:
    """Control: a path of the same issuer that sends no CORS header is unreadable from the page,
    so the JWKS fetches above succeed only because of the JWKS's CORS header."""
    browser, errors = page
    no_cors = issued["ES256"].issuer + "/keyring.json"
    assert httpx.get(no_cors).status_code == 200  # it is there; only CORS stands in the way
    assert browser.evaluate("url => window.fetchCrossOrigin(url)", no_cors).startswith("TypeError")
    assert any("blocked by CORS policy" in e for e in errors), errors
    assert browser.evaluate("url => window.fetchCrossOrigin(url)", issued["ES256"].jwks_uri) == "readable"


@pytest.mark.parametrize(("alg", "field"), [("ES256", "x"), ("RS256", "n")])
def test_webcrypto_refuses_a_jwk_in_the_wrong_encoding(page: tuple[Page, list[str]],
                                                        issued: dict[str, IssuedToken],
                                                        alg: str, field: str) -> None:
    """Control: the import that succeeds above is strict, so a JWK format regression would fail."""
    browser, _ = page
    outcome = browser.evaluate("([uri, field]) => window.importChanged(uri, field)",
                               [issued[alg].jwks_uri, field])
    assert outcome.startswith("DataError"), outcome
