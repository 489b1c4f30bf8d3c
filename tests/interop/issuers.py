"""Eleven running issuers, one per algorithm Signet signs with, and a token from each over HTTP.

All issuers share one clients file (registered once with the CLI) and start together, so
the whole matrix costs about one issuer start-up. Every verifier in tests/interop checks
these same tokens, each fetching the issuer's JWKS itself.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from signet.algorithms import ALGORITHMS
from tests.support.processes import Service, start_issuer
from tests.support.tokens import add_client, post_token

AUDIENCE = "https://api.interop.test"
CLIENT_ID = "interop"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class IssuedToken:
    """A token as a relying party receives it, with what it needs to verify it."""

    alg: str
    issuer: str
    token: str
    audience: str = AUDIENCE

    @property
    def jwks_uri(self) -> str:
        return self.issuer + JWKS_PATH

    def case(self, label: str | None = None, token: str | None = None) -> dict[str, str]:
        """The job description the Node and browser verifiers read."""
        return {"label": label or self.alg, "alg": self.alg, "token": token or self.token,
                "issuer": self.issuer, "audience": self.audience, "jwks_uri": self.jwks_uri}


def tamper_signature(token: str) -> str:
    """The same token with one bit of its signature flipped: every verifier must refuse it.

    Flipped in the decoded bytes (not the base64url text, whose last character may carry
    only padding bits) and in the middle, so no encoding quirk can hide the change.
    """
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([head, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])


@contextmanager
def issuers_for_every_algorithm(tmp: Path) -> Iterator[dict[str, IssuedToken]]:
    """Start one local-backend issuer per algorithm and fetch one token from each."""
    env = {"SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml")}
    secret = add_client(env, CLIENT_ID, "--scope", "read", "--audience", AUDIENCE) or ""
    started: dict[str, tuple[Service, str]] = {}
    try:
        for alg in ALGORITHMS:
            started[alg] = start_issuer({**env, "SIGNET_SIGNING_ALG": alg,
                                         "SIGNET_LOCAL_KEY_DIR": str(tmp / f"keys-{alg}")},
                                        wait=False)
        issued: dict[str, IssuedToken] = {}
        for alg, (service, base) in started.items():
            service.wait_http(base + "/healthz", timeout=60)
            response = post_token(base, {"grant_type": "client_credentials"},
                                  auth=(CLIENT_ID, secret))
            assert response.status_code == 200, response.text
            issued[alg] = IssuedToken(alg, base, response.json()["access_token"])
        yield issued
    finally:
        for service, _ in started.values():
            service.stop()
