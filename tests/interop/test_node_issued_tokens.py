"""The reverse direction: Signet's verifier accepts tokens minted by Node.js `jose` (a
third-party issuer), with the keys published in a JWKS served over loopback HTTP, so Signet
is a drop-in verifier for other issuers too. A flipped signature bit is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from signet.algorithms import ALGORITHMS
from signet.verifier import BadSignature, Verifier
from tests.interop.issuers import tamper_signature
from tests.support.processes import free_port

NODE_DIR = Path(__file__).parent / "node"
AUDIENCE = "api://node-issued"


def _serve(body: bytes, port: int) -> ThreadingHTTPServer:
    class JwksHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=300")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), JwksHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def node_issuer() -> Iterator[tuple[str, dict[str, str]]]:
    """A third-party issuer: keys and tokens made by node jose, its JWKS on loopback HTTP."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "jose").is_dir():
        pytest.fail("node and the npm packages are needed: `make test` runs `npm ci`")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    request = {"issuer": issuer, "audience": AUDIENCE, "algs": list(ALGORITHMS)}
    result = subprocess.run([node, "mint.mjs"], cwd=NODE_DIR, input=json.dumps(request),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    minted = json.loads(result.stdout)
    server = _serve(json.dumps(minted["jwks"]).encode(), port)
    yield issuer, minted["tokens"]
    server.shutdown()


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_signet_verifies_node_jose_tokens(node_issuer: tuple[str, dict[str, str]], alg: str) -> None:
    issuer, tokens = node_issuer
    verifier = Verifier(issuer, AUDIENCE, jwks_url=issuer + "/jwks.json")
    try:
        claims = verifier.verify_sync(tokens[alg])
        assert (claims.subject, claims.to_dict()["client_id"], claims.to_dict()["iss"]) == (
            "node-client", "node-client", issuer)
        with pytest.raises(BadSignature):
            verifier.verify_sync(tamper_signature(tokens[alg]))
    finally:
        verifier.close()
