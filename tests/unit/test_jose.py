"""Encodings every token passes through: strict base64url and ECDSA signature forms."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from signet.algorithms import ALGORITHMS
from signet.jose import (
    EncodingError,
    b64url_decode,
    b64url_encode,
    der_to_raw_ecdsa,
    raw_to_der_ecdsa,
    signing_input,
)


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xff\xfe\xfd", bytes(range(256))])
def test_b64url_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("bad", ["Zg==", "Z+8", "Z/8", "Zg=", "a", "Zh", "ab cd", "Zm9v\n", "é"])
def test_b64url_refuses_padding_other_alphabets_and_non_canonical_tails(bad: str) -> None:
    # "Zh" decodes to b"f" in lenient decoders but is not the canonical spelling "Zg".
    with pytest.raises((EncodingError, UnicodeEncodeError)):
        b64url_decode(bad)


def test_signing_input_is_compact_json_in_base64url() -> None:
    data = signing_input({"alg": "ES256", "typ": "at+jwt"}, {"sub": "ü"})
    header, payload = data.split(b".")
    assert b64url_decode(header.decode()) == b'{"alg":"ES256","typ":"at+jwt"}'
    assert b64url_decode(payload.decode()) == '{"sub":"ü"}'.encode()


@pytest.mark.parametrize("alg_name", ["ES256", "ES384", "ES512"])
def test_der_to_raw_pads_every_signature_to_fixed_width(alg_name: str) -> None:
    """Many signatures, because a missing pad shows only when R or S is short (~1 in 256)."""
    alg = ALGORITHMS[alg_name]
    key = ec.generate_private_key(alg.new_curve())
    size = alg.coordinate_size
    short_seen = 0
    count = 1500 if alg_name == "ES256" else 300
    for i in range(count):
        der = key.sign(b"message %d" % i, ec.ECDSA(alg.new_hash()))
        raw = der_to_raw_ecdsa(der, size)
        assert len(raw) == 2 * size
        r, s = decode_dss_signature(der)
        short_seen += (r.bit_length() <= 8 * (size - 1)) + (s.bit_length() <= 8 * (size - 1))
        assert raw_to_der_ecdsa(raw, size) == der
        key.public_key().verify(raw_to_der_ecdsa(raw, size), b"message %d" % i,
                                ec.ECDSA(alg.new_hash()))
    if alg_name == "ES256":
        assert short_seen > 0, "no short R/S in 3000 integers: padding was not exercised"


def test_p521_coordinates_need_66_bytes() -> None:
    alg = ALGORITHMS["ES512"]
    assert (alg.coordinate_size, alg.curve_name, alg.hash_name) == (66, "P-521", "SHA512")
    key = ec.generate_private_key(ec.SECP521R1())
    raw = der_to_raw_ecdsa(key.sign(b"x", ec.ECDSA(hashes.SHA512())), 66)
    assert len(raw) == 132


@pytest.mark.parametrize("length", [0, 63, 65, 70, 72])
def test_raw_signature_of_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(EncodingError):
        raw_to_der_ecdsa(b"\x01" * length, 32)
