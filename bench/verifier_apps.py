"""The two apps of the verifier-over-HTTP bench: the same Starlette endpoint, with and without
SignetAuthMiddleware. `uvicorn bench.verifier_apps:protected` / `bench.verifier_apps:unprotected`.

Both answer `GET /hello` with the same small JSON body; the protected one first verifies the
bearer token. Its verifier is preloaded with BENCH_JWKS (the bench's own key), so the
comparison measures the request path alone, not a JWKS fetch. BENCH_ISSUER and
BENCH_AUDIENCE name what the tokens carry.
"""

from __future__ import annotations

import os

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


unprotected = Starlette(routes=[Route("/hello", hello)])
protected = Starlette(routes=[Route("/hello", hello)])
# manage_lifespan=False: the keys are preloaded, so no warm-up fetch and no refresh task.
protected.add_middleware(SignetAuthMiddleware, verifier=_verifier(), manage_lifespan=False)
