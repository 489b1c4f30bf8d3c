"""The two apps of the verifier-over-HTTP bench: the same Starlette endpoint, with and without
SignetAuthMiddleware. `uvicorn bench.verifier_apps:protected` / `bench.verifier_apps:unprotected`.

Both answer `GET /hello` with the same small JSON body; the protected one first verifies the
bearer token. A third, `signature_only`, is the unprotected app behind a stub middleware
that does nothing but one raw `cryptography` ES256 verify per request (of a fixed signature,
BENCH_RAW_DATA and BENCH_RAW_SIGNATURE, hex): what one verify costs inside a server, where
it shares the CPU caches with the HTTP stack, to set beside the in-process raw verify.

The protected app's verifier is preloaded with BENCH_JWKS (the bench's own key), so the
comparison measures the request path alone, not a JWKS fetch. BENCH_ISSUER and
BENCH_AUDIENCE name what the tokens carry.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from signet.verifier import SignetAuthMiddleware, Verifier

BODY = b'{"hello":"world"}'


async def hello(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


def _verifier() -> Verifier:
    issuer = os.environ.get("BENCH_ISSUER", "https://issuer.bench.example")
    verifier = Verifier(issuer, os.environ.get("BENCH_AUDIENCE", "api://bench"),
                        jwks_url=issuer + "/jwks", algorithms=["ES256"])
    verifier.load_jwks(issuer, os.environ.get("BENCH_JWKS", '{"keys":[]}'))
    return verifier


class SignatureOnly:
    """One raw ES256 verify per HTTP request, then the app: the signature's in-server cost."""

    def __init__(self, app: Any) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from signet.jwk import jwk_to_public_key

        self.app = app
        jwk = json.loads(os.environ.get("BENCH_JWKS", '{"keys":[]}'))["keys"][0]
        self.verify = jwk_to_public_key(jwk).verify  # type: ignore[union-attr]
        self.ecdsa = ec.ECDSA(hashes.SHA256())
        self.data = bytes.fromhex(os.environ.get("BENCH_RAW_DATA", ""))
        self.signature = bytes.fromhex(os.environ.get("BENCH_RAW_SIGNATURE", ""))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.verify(self.signature, self.data, self.ecdsa)
        await self.app(scope, receive, send)


unprotected = Starlette(routes=[Route("/hello", hello)])
signature_only = Starlette(routes=[Route("/hello", hello)])
if os.environ.get("BENCH_RAW_DATA"):
    signature_only.add_middleware(SignatureOnly)
protected = Starlette(routes=[Route("/hello", hello)])
# manage_lifespan=False: the keys are preloaded, so no warm-up fetch and no refresh task.
protected.add_middleware(SignetAuthMiddleware, verifier=_verifier(), manage_lifespan=False)
