"""Compact JWS building blocks: base64url, signing input, ECDSA signature encodings.

Kept free of I/O and key handling so that both the issuer and the verifier share
exactly one implementation of each encoding rule.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)
from pybase64 import b64decode

# What a base64url text of length % 4 == i needs appended to decode (1 is never valid).
PADDING = (b"", b"", b"==", b"=")
# The last character of a canonical encoding leaves the unused low bits zero:
# 4 bits when len % 4 == 2, 2 bits when len % 4 == 3.
CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(), frozenset(), frozenset(b"AQgw"), frozenset(b"AEIMQUYcgkosw048"))


class EncodingError(ValueError):
    """Input is not the canonical encoding JWS requires."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url (RFC 7515 section 2): no padding, no other alphabet, canonical tail bits.

    Canonical means re-encoding gives the same text, so one token has exactly one spelling
    and a cache keyed by the token string cannot be bypassed by flipping unused bits.
    """
    if type(text) is not bytes:
        try:
            text = text.encode("ascii") if isinstance(text, str) else bytes(text)
        except UnicodeEncodeError:
            raise EncodingError("not base64url") from None
    tail = len(text) % 4
    # pybase64 would accept "+" (43), "/" (47) and "=" (61) too: refuse them first. Int
    # operands make `in` a memchr; one-byte bytes operands are several times slower.
    if tail == 1 or 43 in text or 47 in text or 61 in text:
        raise EncodingError("not base64url")
    if tail and text[-1] not in CANONICAL_LAST[tail]:
        raise EncodingError("non-canonical base64url")
    try:
        # SIMD decoder; validating refuses whitespace and characters outside the alphabet.
        # Positional arguments: pybase64 parses keywords far more slowly.
        return b64decode(text + PADDING[tail], b"-_", True)
    except ValueError:  # binascii.Error
        raise EncodingError("not base64url") from None


# What json.dumps(obj, separators=(",", ":"), ensure_ascii=False) builds on every call; built
# once, since the issuer encodes a header and a payload per token.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_b64(obj: dict[str, Any]) -> str:
    """Compact JSON (no spaces), base64url-encoded: the form of a JWS header or payload."""
    return b64url_encode(_COMPACT_JSON.encode(obj).encode())


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> bytes:
    """ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), RFC 7515 section 5.1."""
    return f"{json_b64(header)}.{json_b64(payload)}".encode("ascii")


def compact(signing_input_bytes: bytes, signature: bytes) -> str:
    return f"{signing_input_bytes.decode('ascii')}.{b64url_encode(signature)}"


def der_to_raw_ecdsa(der: bytes, coordinate_size: int) -> bytes:
    """DER ECDSA-Sig-Value (what KMS and `cryptography` return) -> JWS R||S.

    Each integer is left-padded to the curve's fixed width; forgetting the padding
    fails about one signature in 256 for P-256.
    """
    r, s = decode_dss_signature(der)
    limit = 1 << (8 * coordinate_size)
    if not (0 < r < limit and 0 < s < limit):
        raise EncodingError("ECDSA signature integer out of range for the curve")
    return r.to_bytes(coordinate_size, "big") + s.to_bytes(coordinate_size, "big")


def raw_to_der_ecdsa(raw: bytes, coordinate_size: int) -> bytes:
    """JWS R||S -> DER, refusing any length other than exactly 2 x coordinate size."""
    if len(raw) != 2 * coordinate_size:
        raise EncodingError(
            f"ECDSA signature must be {2 * coordinate_size} bytes, got {len(raw)}"
        )
    # The same bytes as encode_dss_signature(int(r), int(s)), built from the halves directly:
    # this runs once per verified token, and the int round trip costs twice as much.
    r, s = _der_integer(raw[:coordinate_size]), _der_integer(raw[coordinate_size:])
    length = len(r) + len(s)
    # P-521 sequences pass 127 bytes and take the long length form.
    return (b"\x30" + (bytes((length,)) if length < 128 else bytes((0x81, length)))) + r + s


def _der_integer(unsigned: bytes) -> bytes:
    """DER INTEGER of a big-endian unsigned value: minimal, with a 0 byte before a high bit."""
    value = unsigned.lstrip(b"\0") or b"\0"
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + bytes((len(value),)) + value
