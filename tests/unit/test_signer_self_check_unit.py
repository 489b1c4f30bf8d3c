"""The signer's verify-before-hand-out check, now built once per published key: a signature
that does not verify is never turned into a token.

Fault injection: a wrapper around a real local signing key flips one bit of its signature
(or returns another key's), standing in for a KMS or encoding fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signet.algorithms import ALGORITHMS
from signet.keys.base import PublishedKey, SigningKey
from signet.keys.local import LocalKeyBackend, generate_private_key
from signet.signatures import sign
from signet.signer import JwsSigner, SelfCheckFailed


class FaultyKey:
    """The real key's published half; its signatures are damaged by `damage`."""

    def __init__(self, real: SigningKey, damage: str) -> None:
        self.real, self.damage = real, damage

    @property
    def published(self) -> PublishedKey:
        return self.real.published

    async def sign(self, data: bytes) -> bytes:
        if self.damage == "other key":
            return sign(self.published.alg, generate_private_key(self.published.alg), data)
        good = await self.real.sign(data)
        return good[:-1] + bytes([good[-1] ^ 1])


class Backend:
    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def signing_key(self) -> SigningKey:
        return self.key


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
async def test_self_check_passes_good_signatures_and_stops_bad_ones(tmp_path: Path, alg: str) -> None:
    backend = LocalKeyBackend(tmp_path, ALGORITHMS[alg])
    await backend.open()
    real = backend.signing_key()
    token, kid = await JwsSigner(backend).sign_with_kid({"sub": "x"})
    assert kid == real.published.kid and token.count(".") == 2
    for damage in ("flipped bit", "other key"):
        signer = JwsSigner(Backend(FaultyKey(real, damage)))  # type: ignore[arg-type]
        with pytest.raises(SelfCheckFailed):
            await signer.sign_with_kid({"sub": "x"})


async def test_the_header_encoded_once_per_key_gives_signing_inputs_bytes(tmp_path: Path) -> None:
    from signet.jose import signing_input

    backend = LocalKeyBackend(tmp_path, ALGORITHMS["ES256"])
    await backend.open()
    published = backend.signing_key().published
    signer = JwsSigner(backend)
    for claims, typ in (({"sub": "x"}, "at+jwt"), ({"sub": "y", "n": 1}, "at+jwt"), ({"sub": "z"}, "JWT")):
        token, _ = await signer.sign_with_key(claims, typ)
        header = {"alg": published.alg.name, "kid": published.kid, "typ": typ}
        assert token.rsplit(".", 1)[0].encode() == signing_input(header, claims)
