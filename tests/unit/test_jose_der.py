"""JWS R||S -> DER for OpenSSL, built by hand on the verifier's request path: it must give
exactly the bytes `cryptography`'s encode_dss_signature gives, for every curve width and for
the edge values (zero, leading zero bytes, high bit set, P-521's long length form)."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signet.jose import EncodingError, raw_to_der_ecdsa


@pytest.mark.parametrize("size", [32, 48, 66])
def test_raw_to_der_matches_cryptography(size: int) -> None:
    rng = random.Random(size)
    halves = [b"\0" * size, b"\xff" * size, b"\0" * (size - 1) + b"\1", b"\x80" + b"\0" * (size - 1),
              b"\0\x80" + b"\0" * (size - 2), b"\0\x7f" + b"\xff" * (size - 2)]
    halves += [rng.getrandbits(8 * size).to_bytes(size, "big") for _ in range(500)]
    for _ in range(3000):
        r, s = rng.choice(halves), rng.choice(halves)
        expected = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        assert raw_to_der_ecdsa(r + s, size) == expected


def test_raw_to_der_refuses_a_wrong_length() -> None:
    with pytest.raises(EncodingError):
        raw_to_der_ecdsa(b"\1" * 63, 32)
