"""Tokens for verifier tests: valid ones from the real signer, and hand-made attack tokens."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from signet import signatures
from signet.algorithms import ALGORITHMS, Algorithm
from signet.jose import b64url_encode
from signet.keys.local import LocalKeyBackend, LocalSigningKey
from signet.verifier import SignetError, Verifier

AUDIENCE = "api://test"


def refusal_code(verifier: Verifier, token: Any) -> str:
    """The verifier's error code for `token`, or "ok" when it verifies."""
    try:
        verifier.verify_sync(token)
    except SignetError as exc:
        return exc.code
    return "ok"


def mutate(text: str, rng: random.Random, alphabet: str, max_edits: int,
           replace_below: float, delete_below: float) -> str:
    """`text` after 1..max_edits random edits at random places: a roll under `replace_below`
    replaces a character, under `delete_below` deletes one, else one is inserted (new
    characters from `alphabet`)."""
    chars = list(text)
    for _ in range(rng.randint(1, max_edits)):
        position = rng.randrange(len(chars))
        roll = rng.random()
        if roll < replace_below:
            chars[position] = rng.choice(alphabet)
        elif roll < delete_below:
            del chars[position]
        else:
            chars.insert(position, rng.choice(alphabet))
    return "".join(chars)


def access_claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    """RFC 9068 claims, valid for five minutes; `None` values remove a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "sub": "client-1", "client_id": "client-1",
                              "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300,
                              "jti": f"jti-{time.monotonic_ns()}", "scope": "read"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def open_key(key_dir: Path, alg: str = "ES256") -> LocalSigningKey:
    """The newest key for `alg` in `key_dir` (created when there is none)."""
    backend = LocalKeyBackend(key_dir, ALGORITHMS[alg])
    await backend.open()
    return backend.signing_key()


def segment(part: dict[str, Any] | list[Any] | bytes | str) -> str:
    """A base64url segment of a JSON value, or of raw bytes, or a str taken as is."""
    if isinstance(part, str):
        return part
    if isinstance(part, bytes):
        return b64url_encode(part)
    return b64url_encode(json.dumps(part, separators=(",", ":")).encode())


def make_token(key: LocalSigningKey | None, payload: Any, *, header: dict[str, Any] | None = None,
               alg: Algorithm | None = None, signature: bytes | None = None,
               private_key: signatures.PrivateKey | None = None) -> str:
    """A compact JWS with any header and payload; signed by `key` unless `signature` is given."""
    if header is None:
        assert key is not None
        header = {"alg": key.published.alg.name, "kid": key.published.kid, "typ": "at+jwt"}
    data = f"{segment(header)}.{segment(payload)}"
    if signature is None:
        signer_key = private_key if private_key is not None else key.private_key  # type: ignore[union-attr]
        sign_alg = alg or (key.published.alg if key else ALGORITHMS[header["alg"]])
        signature = signatures.sign(sign_alg, signer_key, data.encode())
    return f"{data}.{b64url_encode(signature)}"


def sign_claims(key: LocalSigningKey, claims: dict[str, Any], **header: Any) -> str:
    """A token signed by `key` whose header is Signet's plus/minus `header` (None removes)."""
    full = {"alg": key.published.alg.name, "kid": key.published.kid, "typ": "at+jwt", **header}
    return make_token(key, claims, header={k: v for k, v in full.items() if v is not None})
