"""Loopback workload identity issuers for federated client authentication tests.

Each is a real HTTP server on 127.0.0.1 serving OpenID discovery and a JWKS, with RSA keys
from `cryptography` and tokens signed by PyJWT (never Signet's signer), shaped as the
platforms document them:

- Kubernetes service-account issuer ("Service account token volume projection"): header
  {alg, kid} without typ; `sub` system:serviceaccount:<ns>:<name>, `kubernetes.io` with
  namespace, serviceaccount {name, uid}, pod {name, uid}; iat, nbf, exp, jti.
- SPIFFE: a trust bundle served as a plain JWKS (no discovery); JWT-SVIDs with
  `sub` spiffe://<trust domain>/..., `aud`, `exp`, `iat` and `iss` (SPIRE's jwt_issuer).
- GitHub Actions ("About security hardening with OpenID Connect"): typ JWT, RS256, `sub`
  repo:<owner>/<repo>:environment:<env>, repository, ref, environment, jti, run_id...

`rotate()` replaces the signing key (the old one leaves the JWKS at once).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.processes import free_port


class WorkloadIssuer:
    """One loopback issuer: `url`, `jwks_url`, `mint(...)`, `rotate()`, `stop()`."""

    def __init__(self, *, discovery: bool = True, jwks_path: str = "/openid/v1/jwks") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.jwks_path = jwks_path
        self.discovery = discovery
        self.generation = 0
        self.jwks_requests = 0
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-0"
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == jwks_path:
                    issuer.jwks_requests += 1
                    self._send(issuer.jwks())
                elif issuer.discovery and self.path == "/.well-known/openid-configuration":
                    self._send({"issuer": issuer.url, "jwks_uri": issuer.jwks_url,
                                "response_types_supported": ["id_token"],
                                "subject_types_supported": ["public"],
                                "id_token_signing_alg_values_supported": ["RS256"]})
                else:
                    self.send_error(404)

            def _send(self, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def jwks_url(self) -> str:
        return self.url + self.jwks_path

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def rotate(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.generation += 1
        self.kid = f"key-{self.generation}"

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256",
                          headers={"kid": self.kid, **(headers or {})})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def kubernetes_claims(issuer: str, audience: str, namespace: str, name: str, *,
                      lifetime: int = 600, now: int | None = None, **extra: Any) -> dict[str, Any]:
    """A projected service-account token's claims, bound to a pod, as the API server issues."""
    now = int(time.time()) if now is None else now
    return {"aud": [audience], "exp": now + lifetime, "iat": now, "nbf": now, "iss": issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace,
                              "pod": {"name": f"{name}-7d9f8-abcde", "uid": str(uuid.uuid4())},
                              "serviceaccount": {"name": name, "uid": str(uuid.uuid4())}},
            "sub": f"system:serviceaccount:{namespace}:{name}", **extra}


def spiffe_claims(issuer: str, audience: str, spiffe_id: str, *, lifetime: int = 300,
                  **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "sub": spiffe_id, "aud": [audience], "exp": now + lifetime, "iat": now,
            **extra}


def github_claims(issuer: str, audience: str, repository: str, environment: str, *,
                  ref: str = "refs/heads/main", lifetime: int = 300, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    owner = repository.split("/")[0]
    return {"jti": str(uuid.uuid4()), "sub": f"repo:{repository}:environment:{environment}",
            "aud": audience, "ref": ref, "sha": "e2c6b8b0f1d0a1c3", "repository": repository,
            "repository_owner": owner, "repository_id": "74", "repository_owner_id": "65",
            "run_id": "4812", "run_number": "12", "run_attempt": "1", "actor": "octocat",
            "workflow": "deploy", "event_name": "push", "ref_type": "branch",
            "environment": environment, "job_workflow_ref": f"{repository}/.github/workflows/"
            "deploy.yml@refs/heads/main", "runner_environment": "github-hosted", "iss": issuer,
            "nbf": now - 5, "exp": now + lifetime, "iat": now, **extra}
