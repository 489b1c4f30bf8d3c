"""Issuer-wide request size limits, over real HTTP against uvicorn on loopback: every route
answers an oversized request with a clear 4xx in the issuer's JSON error shape."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.server.http_protocol import head_limit
from tests.support.processes import RunningIssuer, Service, free_port

HEADER_LIMIT = 8192
BODY_LIMIT = 2048
ROUTES = ["/healthz", "/token", "/.well-known/jwks.json", "/admin/keys", "/inspect"]


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> str:
    return make_issuer({
        "SIGNET_MAX_HEADER_BYTES": str(HEADER_LIMIT), "SIGNET_TOKEN_MAX_BODY_BYTES": str(BODY_LIMIT),
        "SIGNET_ADMIN_TOKEN": "admin-secret-for-limits-0123456789abcdef"}).base


def _assert_refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == "invalid_request"
    assert words in response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize("path", ROUTES)
def test_one_oversized_header_gets_431(issuer: str, path: str) -> None:
    response = httpx.get(issuer + path, headers={"X-Padding": "a" * HEADER_LIMIT})
    _assert_refused(response, 431, f"larger than {HEADER_LIMIT} bytes")


def test_many_small_headers_add_up_to_431(issuer: str) -> None:
    headers = [(f"x-h{i}", "v" * 20) for i in range(HEADER_LIMIT // 20)]
    _assert_refused(httpx.get(issuer + "/healthz", headers=headers), 431, "headers larger")


def test_headers_within_the_limit_pass(issuer: str) -> None:
    response = httpx.get(issuer + "/healthz", headers={"X-Padding": "a" * (HEADER_LIMIT // 2)})
    assert response.status_code == 200


def test_long_request_target_gets_414(issuer: str) -> None:
    response = httpx.get(issuer + "/.well-known/jwks.json", params={"q": "a" * 9000})
    _assert_refused(response, 414, "request target longer")


@pytest.mark.parametrize("path", ["/healthz", "/admin/keys/rotate", "/token"])
def test_declared_oversized_body_gets_413_on_every_route(issuer: str, path: str) -> None:
    response = httpx.post(issuer + path, content=b"a" * (BODY_LIMIT + 1),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    _assert_refused(response, 413, f"larger than {BODY_LIMIT} bytes")


def test_streamed_oversized_body_gets_413(issuer: str) -> None:
    """Chunked (no Content-Length): the body is cut where it passes the limit."""
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&scope="
        for _ in range(10):
            yield b"a" * 512

    response = httpx.post(issuer + "/token", content=chunks(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invalid_request"


def test_declared_huge_body_on_another_route_is_refused_unread(issuer: str) -> None:
    """Content-Length says 1 GB and nothing follows: the answer comes without waiting for it."""
    host, port = issuer.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /admin/keys/rotate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413 ")


def test_signet_serve_refuses_a_huge_head_while_it_arrives(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`signet serve` stops reading a request head past twice the guard's limits: the client
    cannot even finish sending 50 MB of header, and gets 431."""
    tmp = tmp_path_factory.mktemp("serve-limits")
    port = free_port()
    service = Service("signet-serve", [sys.executable, "-m", "app", "serve"], {
        "SIGNET_PORT": str(port), "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
        "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), "SIGNET_MAX_HEADER_BYTES": str(HEADER_LIMIT)})
    try:
        service.wait_http(f"http://127.0.0.1:{port}/healthz")
        ok = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Padding": "a" * (HEADER_LIMIT // 2)})
        assert ok.status_code == 200
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(800):
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = sock.makefile("rb").read()
        assert sent < 800 * 65536, "the server read the whole 50 MB head"
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert f"larger than {head_limit(HEADER_LIMIT)} bytes".encode() in answer
    finally:
        service.stop()


def test_signet_serve_drops_requests_that_arrive_too_slowly(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Connections holding an unfinished head, an unfinished body (also one pipelined behind
    a complete request), or nothing at all get 408
    and are closed after SIGNET_REQUEST_READ_TIMEOUT_SECONDS, while a normal request on
    another connection is served meanwhile; a complete request is never cut off."""
    import time

    tmp = tmp_path_factory.mktemp("serve-slow")
    port = free_port()
    service = Service("signet-serve", [sys.executable, "-m", "app", "serve"], {
        "SIGNET_PORT": str(port), "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
        "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), "SIGNET_REQUEST_READ_TIMEOUT_SECONDS": "1.5"})
    try:
        base = f"http://127.0.0.1:{port}"
        service.wait_http(base + "/healthz")
        starts = {"head": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                  "body": b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type:"
                          b" application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
                  "nothing": b"",
                  # A whole request, then the head of another in the same write (pipelining):
                  # the second request's clock must start although no new chunk arrives.
                  "pipelined": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type:"
                               b" application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"}
        sockets = {}
        for name, start in starts.items():
            sock = socket.create_connection(("127.0.0.1", port), timeout=20)
            sock.sendall(start)
            sockets[name] = sock
        opened = time.monotonic()
        assert httpx.get(base + "/healthz").status_code == 200  # served while they hang
        for name, sock in sockets.items():
            with sock:
                answer = sock.makefile("rb").read()  # returns once the server closes
            waited = time.monotonic() - opened
            if name == "pipelined":  # the first request answered, then the second refused
                assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
                answer = answer[answer.index(b"HTTP/1.1 408 "):]
            assert answer.startswith(b"HTTP/1.1 408 "), (name, answer[:100])
            assert b"did not arrive within 1.5 s" in answer, name
            assert waited >= 1.4, (name, waited)  # not before the bound
        # A request that arrived whole is answered however long ago the connection opened.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 200 ")
    finally:
        service.stop()


@pytest.mark.parametrize("proxy_headers", [False, True])
def test_signet_serve_warns_when_an_https_issuer_runs_without_proxy_headers(
        tmp_path: Path, proxy_headers: bool) -> None:
    """An https issuer URL means a proxy terminates TLS in front of `signet serve`; without
    --proxy-headers every caller is counted under the proxy's address. Say so at start."""
    port = free_port()
    argv = [sys.executable, "-m", "app", "serve", *(["--proxy-headers"] if proxy_headers else [])]
    service = Service("signet-serve", argv, {
        "SIGNET_PORT": str(port), "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"),
        "SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"), "SIGNET_ISSUER": "https://issuer.example"})
    try:
        service.wait_http(f"http://127.0.0.1:{port}/healthz")
        output = service.output()
    finally:
        service.stop()
    assert ("--proxy-headers is off" in output) is not proxy_headers, output
