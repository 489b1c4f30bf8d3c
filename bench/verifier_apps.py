"""The apps of the verifier-over-HTTP bench: the same Starlette endpoint, with and without
SignetAuthMiddleware. `uvicorn bench.verifier_apps:protected` (or `unprotected`, `raw_verify`).

All answer `GET /hello` with the same small JSON body; the protected one first verifies the
bearer token. The third, `raw_verify`, is the unprotected app whose endpoint first does one
raw `cryptography` ES256 verify of the bearer token's own signature (header scan, split at
the last dot, base64url and DER of the signature, verify: what any verifier must do, and no
Signet code, no claims). Run under uvicorn and loaded by wrk like the other two, it is the
baseline of "beyond one raw verify": a signature checked in the same server conditions
(CPU caches shared with the HTTP stack and the event loop), not in a tight loop.

The protected app's verifier is preloaded with BENCH_JWKS (the bench's own key), so the
comparison measures the request path alone, not a JWKS fetch. BENCH_ISSUER and
BENCH_AUDIENCE name what the tokens carry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable

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


def _raw_endpoint() -> Callable[[Request], Awaitable[Response]]:
    """`hello` after one raw ES256 verify of the request's bearer token (401 if it fails)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from pybase64 import urlsafe_b64decode

    from signet.jose import raw_to_der_ecdsa
    from signet.jwk import jwk_to_public_key

    jwk = json.loads(os.environ.get("BENCH_JWKS", '{"keys":[]}'))["keys"]
    verify = jwk_to_public_key(jwk[0]).verify if jwk else None  # type: ignore[union-attr]
    ecdsa = ec.ECDSA(hashes.SHA256())

    async def raw_hello(request: Request) -> Response:
        token = b""
        for name, value in request.scope["headers"]:
            if name == b"authorization":
                token = value[7:]
        signed, _, signature = token.rpartition(b".")
        try:
            assert verify is not None
            verify(raw_to_der_ecdsa(urlsafe_b64decode(signature + b"=" * (-len(signature) % 4)), 32),
                   signed, ecdsa)
        except (InvalidSignature, ValueError, AssertionError):
            return Response(b"", 401)
        return Response(BODY, media_type="application/json")

    return raw_hello


unprotected = Starlette(routes=[Route("/hello", hello)])
raw_verify = Starlette(routes=[Route("/hello", _raw_endpoint())])
protected = Starlette(routes=[Route("/hello", hello)])
# manage_lifespan=False: the keys are preloaded, so no warm-up fetch and no refresh task.
protected.add_middleware(SignetAuthMiddleware, verifier=_verifier(), manage_lifespan=False)
