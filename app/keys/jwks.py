"""The JWKS document, serialised once per key set, with a strong ETag over its bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from signet.keys.base import KeyBackend


@dataclass(frozen=True, slots=True)
class JwksDocument:
    body: bytes
    etag: str
    algorithms: tuple[str, ...]
    kids: tuple[str, ...]

    @classmethod
    def from_backend(cls, backend: KeyBackend) -> JwksDocument:
        keys: list[dict[str, object]] = []
        seen: dict[str, None] = {}
        for key in backend.published_keys():
            if key.kid not in seen:  # the same key file twice is still one key
                seen[key.kid] = None
                keys.append(key.jwk)
        body = json.dumps({"keys": keys}, separators=(",", ":")).encode()
        algs = tuple(dict.fromkeys(k["alg"] for k in keys))
        return cls(body, strong_etag(body), algs, tuple(seen))


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 section 13.1.2: weak comparison against a list of entity tags, or '*'."""
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False
