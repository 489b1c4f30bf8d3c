"""Turn claims into a compact JWS with whatever key backend is configured.

Every fresh signature is verified against the published public key before the token
leaves the process, so a KMS or encoding fault can never hand out a token that every
verifier would refuse.
"""

from __future__ import annotations

from typing import Any

from signet.jose import compact, json_b64
from signet.keys.base import KeyBackend, KeyBackendError, PublishedKey

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 section 2.1 media type


class SelfCheckFailed(KeyBackendError):
    """The backend returned a signature that does not verify with the published key."""


class JwsSigner:
    def __init__(self, backend: KeyBackend) -> None:
        self.backend = backend
        # The encoded protected header by (alg, kid, typ): the same bytes for every token a
        # key signs, so it is encoded once per key instead of once per token.
        self._headers: dict[tuple[str, str, str], str] = {}

    def _encoded_header(self, published: PublishedKey, typ: str) -> str:
        key = (published.alg.name, published.kid, typ)
        encoded = self._headers.get(key)
        if encoded is None:
            if len(self._headers) >= 64:  # rotations add kids: keep the few recent ones
                self._headers.clear()
            encoded = json_b64({"alg": key[0], "kid": key[1], "typ": typ})
            self._headers[key] = encoded
        return encoded

    async def sign(self, claims: dict[str, Any], typ: str = ACCESS_TOKEN_TYPE) -> str:
        token, _ = await self.sign_with_kid(claims, typ)
        return token

    async def sign_with_kid(self, claims: dict[str, Any],
                            typ: str = ACCESS_TOKEN_TYPE) -> tuple[str, str]:
        """The token and the kid that signed it (the key may rotate between two calls)."""
        token, published = await self.sign_with_key(claims, typ)
        return token, published.kid

    async def sign_with_key(self, claims: dict[str, Any],
                            typ: str = ACCESS_TOKEN_TYPE) -> tuple[str, PublishedKey]:
        """The token and the key that signed it: its kid and algorithm (in delegated mode the
        root, signing in a fallback, may have another algorithm than the ephemeral keys)."""
        key = self.backend.signing_key()
        published = key.published
        # signing_input's bytes, with the header's part encoded once per key.
        data = f"{self._encoded_header(published, typ)}.{json_b64(claims)}".encode("ascii")
        signature = await key.sign(data)
        if not published.check(data, signature):
            raise SelfCheckFailed(f"signature by {published.kid} failed its self-check; not issued")
        return compact(data, signature), published
