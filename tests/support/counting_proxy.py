"""A tiny reverse proxy on loopback that counts requests per path: how tests see how often
verifiers really fetch the JWKS from the (real) issuer behind it.

Tests switch `upstream` to simulate a key rotation, set `delay` to widen races, and stop
the issuer behind it to simulate an outage (the proxy then answers 502, as a load
balancer would).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

FORWARDED = ("etag", "cache-control", "content-type")


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.delay = 0.0
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with proxy._lock:
                    proxy.counts[self.path] += 1
                time.sleep(proxy.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() == "if-none-match"}
                try:
                    upstream = httpx.get(proxy.upstream + self.path, headers=headers, timeout=5)
                    status, body = upstream.status_code, upstream.content
                    forwarded = {k: v for k, v in upstream.headers.items() if k.lower() in FORWARDED}
                except httpx.HTTPError:
                    status, body, forwarded = 502, b"bad gateway", {}
                self.send_response(status)
                for name, value in forwarded.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def count(self, path: str) -> int:
        with self._lock:
            return self.counts[path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
