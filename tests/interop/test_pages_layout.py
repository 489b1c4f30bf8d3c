"""/keyring and /inspect in headless Chromium at a phone's width (390x844) and a desktop's
(1280x800): nothing wider than the viewport, a kid on one line (cut with an ellipsis, the
full kid as its title), axis ends that do not overlap, the verdict and claims inside their
boxes, and not one console error (a missing favicon would be one). A full-page screenshot
of each is kept under tests/artifacts/ and named at the end of the run."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import ElementHandle, Page

from tests.interop.browser import chromium_page, screenshot
from tests.support.processes import start_issuer
from tests.support.tokens import add_client, post_token, run_cli

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}
AUDIENCE = "https://orders.internal.example.com/api/v2"
SETTLED = "#verdict:not([data-result='checking']):not([data-result='empty'])"


@dataclass(frozen=True)
class Site:
    base: str
    token: str


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An issuer with two published keys (one pending after a rotation) and a real token."""
    tmp = tmp_path_factory.mktemp("layout")
    env = {"SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"), "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"),
           "SIGNET_ROTATION_PERIOD": "30d", "SIGNET_KEY_RING_RELOAD_SECONDS": "0.2"}
    secret = add_client(env, "layout", "--scope", "orders:read", "--audience", AUDIENCE) or ""
    service, base = start_issuer(env)
    try:
        run_cli(env, "keys", "rotate")
        response = post_token(base, {"grant_type": "client_credentials"}, auth=("layout", secret))
        assert response.status_code == 200, response.text
        yield Site(base, response.json()["access_token"])
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, list[str]]]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


def _open(browser: tuple[Page, list[str]], viewport: str) -> Page:
    page, errors = browser
    errors.clear()
    width, height = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    return page


def _no_overflow(page: Page) -> None:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px viewport"


def _within(page: Page, element: ElementHandle | None, what: str) -> None:
    """`element` is rendered, and its box lies between the viewport's left and right edges."""
    assert element is not None, f"{what} is missing"
    box = element.bounding_box()
    assert box is not None and box["width"] > 0, f"{what} is not rendered"
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, f"{what} runs off screen: {box}"


def _lines(element: ElementHandle) -> int:
    """How many line boxes the element's text takes."""
    return int(element.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size }"))


def _apart(first: ElementHandle, second: ElementHandle) -> bool:
    a, b = first.bounding_box(), second.bounding_box()
    assert a is not None and b is not None
    return (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_keyring_page_fits(browser: tuple[Page, list[str]], site: Site, viewport: str) -> None:
    page = _open(browser, viewport)
    page.goto(site.base + "/keyring")
    page.wait_for_selector("#status[data-loaded='true']")
    kids = page.query_selector_all("#keys td.kid")
    assert len(kids) == 2, "the active key and the pending one"
    _no_overflow(page)
    _within(page, page.query_selector("#status"), "the status line")
    for cell in kids:
        assert _lines(cell) == 1, f"the kid wraps: {cell.inner_text()}"
        assert cell.get_attribute("title") == cell.inner_text()
        _within(page, cell, "a kid")
    for row in page.query_selector_all("#keys tbody tr"):
        _within(page, row.query_selector("td.next"), "a key's next step")
        _within(page, row.query_selector(".badge"), "a key's state")
        # Short values never break: the algorithm, the state, a timestamp.
        alg, created = (row.query_selector(f"td[data-label='{c}']") for c in ("alg", "created"))
        for cell in (alg, row.query_selector(".badge"), created):
            assert cell is not None
            assert _lines(cell) == 1, f"broken across lines: {cell.inner_text()!r}"
    for track in page.query_selector_all("#timeline .track"):
        _within(page, track, "a timeline track")
    scales = page.query_selector_all("#timeline .scale")
    assert len(scales) == 2, "the zoomed band and the full span"
    for scale in scales:
        start, end = scale.query_selector(".from"), scale.query_selector(".to")
        assert start is not None and end is not None
        assert _apart(start, end), f"axis labels overlap: {start.inner_text()} / {end.inner_text()}"
        _within(page, start, "an axis start")
        _within(page, end, "an axis end")
    screenshot(page, f"layout-keyring-{viewport}")
    assert browser[1] == []


def _check_inspector(page: Page, expected: str) -> None:
    assert page.get_attribute(SETTLED, "data-result") == expected, page.inner_text("#verdict")
    _no_overflow(page)
    for selector in ("#verdict", "#claims", "#header", "#key", "#issuer", "#token"):
        _within(page, page.query_selector(selector), selector)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_inspector_page_fits(browser: tuple[Page, list[str]], site: Site, viewport: str) -> None:
    page = _open(browser, viewport)
    page.goto(site.base + "/inspect")
    page.fill("#token", site.token)
    page.wait_for_selector(SETTLED)
    _check_inspector(page, "verified")
    assert json.loads(page.inner_text("#claims"))["aud"] == AUDIENCE
    screenshot(page, f"layout-inspect-verified-{viewport}")
    # Values with nothing to break at: a long kid in the verdict, a long claim.
    long = "x" * 300
    header = _b64({"alg": "ES256", "kid": "k" * 120, "typ": "at+jwt"})
    forged = f"{header}.{_b64({'sub': long, 'iss': site.base + '/' + long})}.AAAA"
    page.fill("#token", forged)
    page.wait_for_selector(SETTLED)
    _check_inspector(page, "unknown-key")
    screenshot(page, f"layout-inspect-unknown-key-{viewport}")
    assert browser[1] == []


def test_favicon_answers_with_the_pages_headers(site: Site) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = httpx.get(site.base + path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.content.startswith(b"<svg ")
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-content-type-options"] == "nosniff"

