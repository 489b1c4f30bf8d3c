"""One verifier trusting Signet and five foreign identity providers at once, over HTTP.

Each provider is a loopback issuer serving OpenID discovery and a JWKS, its key and tokens
made by Node.js `jose` (tests/interop/node/providers.mjs) in the shapes the provider documents
(tests/support/provider_tokens.py). Its JWKS also holds keys Signet must skip (`oct`, `enc`,
X25519, HMAC) and, like Entra's, certificates in `x5c`. The verifier is configured from the
environment and an issuers file, shares its key cache through the real Redis, and fetches
every JWKS itself.
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from signet.jose import b64url_decode
from signet.verifier import Verifier
from tests.support.processes import RunningIssuer, free_port
from tests.support.provider_tokens import PROVIDERS, Provider, at
from tests.support.tokens import post_token
from tests.support.verifier_tokens import refusal_code as code

NODE_DIR = Path(__file__).parent / "node"
KID = "key-1"  # every provider uses the same kid: a key must never cross issuers by kid
SIGNET_AUDIENCE = "api://orders"
SKIPPED_KEYS = [
    {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "alg": "HS256"},
    {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "e": "AQAB", "n": "sXch"},
    {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
]


def _x5c(jwk: dict[str, Any]) -> list[str]:
    """A certificate for the provider's public key, issued by a throwaway CA (as Entra
    publishes its keys with their certificates); Signet ignores it, but must not choke on it."""
    public = rsa.RSAPublicNumbers(int.from_bytes(b64url_decode(jwk["e"]), "big"),
                                  int.from_bytes(b64url_decode(jwk["n"]), "big")).public_key()
    ca = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.interop.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(ca, hashes.SHA256()))
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]


class _Providers:
    """Every provider on one loopback server, routed by its issuer path."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.documents: dict[str, bytes] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def issuer(self, provider: Provider) -> str:
        return self.base + provider.path

    def publish(self, provider: Provider, jwks: dict[str, Any]) -> None:
        path = provider.path.rstrip("/")
        issuer = self.issuer(provider)
        self.documents[path + "/.well-known/openid-configuration"] = json.dumps(
            {"issuer": issuer, "jwks_uri": self.base + path + "/keys"}).encode()
        self.documents[path + "/keys"] = json.dumps(jwks).encode()


@pytest.fixture(scope="module")
def world(make_issuer: Any, redis_url: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Verifier, dict[str, Any], _Providers, RunningIssuer]]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "jose").is_dir():
        pytest.fail("node and the npm packages are needed: `make test` runs `npm ci`")
    providers = _Providers(free_port())
    now = int(time.time())
    request = {"issuers": []}
    for index, provider in enumerate(PROVIDERS):
        issuer = providers.issuer(provider)
        tokens = [{"header": s.header, "claims": at(s.claims, issuer, now)} for s in provider.shapes]
        # Last: this provider's first good token, claiming the next provider as its issuer.
        neighbour = providers.issuer(PROVIDERS[(index + 1) % len(PROVIDERS)])
        tokens.append({"header": provider.shapes[0].header,
                       "claims": {**tokens[0]["claims"], "iss": neighbour}})
        request["issuers"].append({"issuer": issuer, "alg": provider.alg, "kid": KID,
                                   "key_has_alg": provider.key_has_alg, "tokens": tokens})
    result = subprocess.run([node, "providers.mjs"], cwd=NODE_DIR, input=json.dumps(request),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    minted = json.loads(result.stdout)
    for provider in PROVIDERS:
        jwk = minted[providers.issuer(provider)]["jwk"]
        if not provider.key_has_alg:  # Entra's shape: no alg, x5c and x5t beside n and e
            jwk = {**jwk, "x5c": _x5c(jwk), "x5t": "Ab1"}
        providers.publish(provider, {"keys": [*SKIPPED_KEYS, jwk]})

    signet = make_issuer(clients={"orders-client": ("--scope", "orders:read", "--audience",
                                                    SIGNET_AUDIENCE)})
    tables = "\n".join(
        f'[[issuer]]\nissuer = "{providers.issuer(p)}"\nprofile = "{p.profile}"\n'
        f"audiences = {json.dumps(list(p.audiences))}\n" for p in PROVIDERS)
    issuers_file = tmp_path_factory.mktemp("verifier") / "issuers.toml"
    issuers_file.write_text(tables)
    verifier = Verifier.from_env({
        "SIGNET_VERIFIER_ISSUER": signet.base, "SIGNET_VERIFIER_AUDIENCE": SIGNET_AUDIENCE,
        "SIGNET_VERIFIER_ISSUERS_FILE": str(issuers_file), "SIGNET_REDIS_URL": redis_url,
        "SIGNET_VERIFIER_REDIS_PREFIX": f"signet:foreign:{now}:",
        "SIGNET_CACHE_INTEGRITY_KEY": "foreign-issuers-integrity-key-0123"})
    verifier.start_sync()
    try:
        yield verifier, minted, providers, signet
    finally:
        verifier.close()
        providers.server.shutdown()


CASES = [(p, i) for p in PROVIDERS for i in range(len(p.shapes))]


@pytest.mark.parametrize(("provider", "index"), CASES,
                         ids=[f"{p.profile}-{p.shapes[i].name}" for p, i in CASES])
def test_each_provider_shape_is_accepted_or_refused_as_documented(
        world: Any, provider: Provider, index: int) -> None:
    verifier, minted, providers, _ = world
    shape = provider.shapes[index]
    token = minted[providers.issuer(provider)]["tokens"][index]
    assert code(verifier, token) == shape.expect
    if shape.expect == "ok":
        claims = verifier.verify_sync(token)
        assert (claims.scopes, claims.client_id, claims.subject, claims.issuer) == (
            shape.scopes, shape.client_id, shape.subject, providers.issuer(provider))


@pytest.mark.parametrize("provider", PROVIDERS, ids=[p.profile for p in PROVIDERS])
def test_no_key_crosses_issuers_and_forgeries_fail(world: Any, provider: Provider) -> None:
    verifier, minted, providers, _ = world
    issued = minted[providers.issuer(provider)]
    # Signed with this provider's key, claiming the next provider (same kid, other key): the
    # signature fails, unless that provider's profile refuses the header's typ even earlier.
    assert code(verifier, issued["tokens"][-1]) in ("bad_signature", "wrong_typ")
    assert code(verifier, issued["forged"]) == "bad_signature"


def test_signets_own_tokens_verify_beside_the_providers_and_skipped_keys_are_not_used(
        world: Any) -> None:
    verifier, _, providers, signet = world
    response = post_token(signet.base, {"grant_type": "client_credentials"},
                          auth=("orders-client", signet.secrets["orders-client"]))
    assert response.status_code == 200, response.text
    claims = verifier.verify_sync(response.json()["access_token"])
    assert (claims.client_id, claims.scopes) == ("orders-client", frozenset({"orders:read"}))
    for provider in PROVIDERS:  # oct, enc, X25519 and HMAC keys skipped; x5c did not matter
        assert verifier.known_kids(providers.issuer(provider)) == {KID}
    assert KID not in verifier.known_kids(signet.base)
