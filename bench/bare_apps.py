"""Baselines for the issuer benchmarks: the least code that does the same work.

`uvicorn bench.bare_apps:app` serves
- POST /token: parse the form, sign the same RFC 9068 claims with ES256 through
  `cryptography` alone, return the same JSON shape (no client auth, no checks);
- GET /jwks: return fixed bytes (BENCH_JWKS_BODY), as a static file would.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from fastapi import FastAPI, Request, Response

app = FastAPI()
_KEY = ec.generate_private_key(ec.SECP256R1())
_JWKS = os.environ.get("BENCH_JWKS_BODY", '{"keys":[]}').encode()
_ISSUER = "http://127.0.0.1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@app.post("/token")
async def token(request: Request) -> Response:
    form = await request.form()
    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "sub": "bench",
        "aud": "api://bench",
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": secrets.token_urlsafe(16),
        "client_id": "bench",
        "scope": str(form.get("scope", "read")),
    }
    head = _b64(json.dumps({"alg": "ES256", "kid": "k", "typ": "at+jwt"}).encode())
    data = f"{head}.{_b64(json.dumps(claims).encode())}".encode()
    r, s = decode_dss_signature(_KEY.sign(data, ec.ECDSA(SHA256())))
    jws = f"{data.decode()}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    body = json.dumps({"access_token": jws, "token_type": "Bearer", "expires_in": 300, "scope": "read"})
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@app.get("/jwks")
async def jwks() -> Response:
    return Response(_JWKS, media_type="application/json")
