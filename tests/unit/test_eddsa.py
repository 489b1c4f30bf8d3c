"""EdDSA (RFC 8037) and its fully specified name Ed25519 (RFC 9864) in the verifier and the
JWK layer: the RFC's own test vectors, strict key-to-algorithm binding, and the refusals
(with their error codes) for alg confusion between OKP and EC keys, other curves and bad
signature lengths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.jose import b64url_decode, b64url_encode
from signet.jwk import JWKError, jwk_algorithm, jwk_to_public_key, public_key_to_jwk, thumbprint
from signet.verifier import Verifier
from signet.verifier.keys import KeyBinding, parse_jwks
from tests.support.verifier_tokens import access_claims, make_token
from tests.support.verifier_tokens import refusal_code as code

ISSUER = "https://issuer.eddsa.test"

# RFC 8037 Appendix A.1 (private key), A.2 (public key), A.3 (its RFC 7638 thumbprint) and
# A.4 (the JWS of the payload "Example of Ed25519 signing" under {"alg":"EdDSA"}).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_PUBLIC = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
               "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def rfc_private_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_D))


def test_rfc8037_public_key_and_thumbprint() -> None:
    public = jwk_to_public_key(dict(RFC8037_PUBLIC))
    assert thumbprint(public) == RFC8037_THUMBPRINT
    raw = rfc_private_key().public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
    assert b64url_encode(raw) == RFC8037_PUBLIC["x"]  # A.1's d derives A.2's x
    jwk = public_key_to_jwk(public, ALGORITHMS["EdDSA"])
    assert jwk == {**RFC8037_PUBLIC, "kid": RFC8037_THUMBPRINT, "use": "sig", "alg": "EdDSA"}


def test_rfc8037_signature_is_reproduced_and_verified_by_signets_key_binding() -> None:
    signing_input, _, signature = RFC8037_JWS.rpartition(".")
    # Ed25519 is deterministic: Signet's signer must give the RFC's exact bytes.
    assert b64url_encode(signatures.sign(ALGORITHMS["EdDSA"], rfc_private_key(),
                                         signing_input.encode())) == signature
    jwks = json.dumps({"keys": [{**RFC8037_PUBLIC, "kid": "rfc", "alg": "EdDSA"}]})
    keys, problems = parse_jwks(jwks, ALGORITHMS)
    assert problems == []
    check = keys["rfc"].check
    assert check(signing_input.encode(), b64url_decode(signature))
    assert not check(signing_input.encode() + b"x", b64url_decode(signature))
    assert not check(signing_input.encode(), b64url_decode(signature)[:-1])


def _verifier(jwks: list[dict[str, Any]], **options: Any) -> Verifier:
    verifier = Verifier(ISSUER, "api://test", jwks_url=ISSUER + "/jwks", **options)
    verifier.load_jwks(ISSUER, json.dumps({"keys": jwks}))
    return verifier


def _token(kid: str, alg: str, private_key: Any, **header: Any) -> str:
    full = {"alg": alg, "kid": kid, "typ": "at+jwt", **header}
    return make_token(None, access_claims(ISSUER), header=full, alg=ALGORITHMS[alg],
                      private_key=private_key)


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_the_verifier_accepts_tokens_of_the_rfc8037_key(alg: str) -> None:
    verifier = _verifier([{**RFC8037_PUBLIC, "kid": "rfc", "alg": alg}])
    claims = verifier.verify_sync(_token("rfc", alg, rfc_private_key()))
    assert claims.client_id == "client-1" and list(claims.scopes) == ["read"]


def test_the_algorithm_name_is_bound_to_the_key_exactly() -> None:
    """A key published as EdDSA verifies EdDSA tokens only, Ed25519 likewise: the header
    never chooses, even between two names of one signature."""
    private = rfc_private_key()
    verifier = _verifier([{**RFC8037_PUBLIC, "kid": "named-eddsa", "alg": "EdDSA"},
                          {**RFC8037_PUBLIC, "kid": "named-ed25519", "alg": "Ed25519"}])
    assert code(verifier, _token("named-eddsa", "Ed25519", private)) == "alg_mismatch"
    assert code(verifier, _token("named-ed25519", "EdDSA", private)) == "alg_mismatch"
    assert code(verifier, _token("named-eddsa", "EdDSA", private)) == "ok"


def test_no_confusion_between_okp_and_ec_keys() -> None:
    """An Ed25519 key never verifies an ES256 token, and a P-256 key never an EdDSA one, even
    when the token's header names the other algorithm and its signature is of that kind."""
    p256 = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = public_key_to_jwk(p256.public_key(), ALGORITHMS["ES256"])
    okp = ed25519.Ed25519PrivateKey.generate()
    okp_jwk = public_key_to_jwk(okp.public_key(), ALGORITHMS["EdDSA"])
    verifier = _verifier([ec_jwk, okp_jwk])
    assert code(verifier, _token(okp_jwk["kid"], "ES256", p256)) == "alg_mismatch"
    assert code(verifier, _token(ec_jwk["kid"], "EdDSA", okp)) == "alg_mismatch"
    assert code(verifier, _token(ec_jwk["kid"], "Ed25519", okp)) == "alg_mismatch"
    # The same kinds of key without `alg`: bound by type and curve, so still no crossing.
    bare_ec = {k: v for k, v in ec_jwk.items() if k != "alg"}
    bare_okp = {k: v for k, v in okp_jwk.items() if k != "alg"}
    verifier = _verifier([bare_ec, bare_okp])
    assert code(verifier, _token(bare_okp["kid"], "ES256", p256)) == "alg_mismatch"
    assert code(verifier, _token(bare_ec["kid"], "EdDSA", okp)) == "alg_mismatch"
    assert code(verifier, _token(bare_okp["kid"], "EdDSA", okp)) == "ok"
    assert code(verifier, _token(bare_okp["kid"], "Ed25519", okp)) == "ok"
    assert code(verifier, _token(bare_ec["kid"], "ES256", p256)) == "ok"


def test_an_okp_key_without_alg_binds_only_to_what_the_issuer_allows() -> None:
    okp = ed25519.Ed25519PrivateKey.generate()
    bare = {k: v for k, v in public_key_to_jwk(okp.public_key(), ALGORITHMS["EdDSA"]).items()
            if k != "alg"}
    keys, _ = parse_jwks(json.dumps({"keys": [bare]}),
                         KeyBinding(ALGORITHMS, (ALGORITHMS["EdDSA"], ALGORITHMS["ES256"])))
    assert keys[bare["kid"]].alg.name == "EdDSA" and not keys[bare["kid"]].alternates
    verifier = _verifier([bare], algorithms=["ES256", "EdDSA"])
    assert code(verifier, _token(bare["kid"], "EdDSA", okp)) == "ok"
    assert code(verifier, _token(bare["kid"], "Ed25519", okp)) == "unsupported_alg"
    verifier = _verifier([bare], algorithms=["ES256"])
    p256 = ec.generate_private_key(ec.SECP256R1())
    assert code(verifier, _token(bare["kid"], "ES256", p256)) == "unusable_key"


@pytest.mark.parametrize(("jwk", "reason"), [
    ({"kty": "OKP", "crv": "Ed448", "alg": "EdDSA",
      "x": "X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA"},
     "unsupported OKP curve 'Ed448': only Ed25519"),
    ({"kty": "OKP", "crv": "X25519", "alg": "EdDSA",
      "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}, "unsupported OKP curve 'X25519'"),
    ({**RFC8037_PUBLIC, "alg": "EdDSA", "x": b64url_encode(b64url_decode(RFC8037_PUBLIC["x"])[:31])},
     "must be 32 bytes, got 31"),
    ({**RFC8037_PUBLIC, "alg": "ES256"}, "JWK alg ES256 needs an EC P-256 key"),
    ({"kty": "EC", "crv": "P-256", "alg": "EdDSA", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}, "JWK alg EdDSA needs an OKP Ed25519 key"),
    ({**RFC8037_PUBLIC, "alg": "EdDSA", "d": RFC8037_D}, "private key material"),
])
def test_unusable_okp_keys_say_why_in_the_token_error(jwk: dict[str, Any], reason: str) -> None:
    with pytest.raises(JWKError, match=reason):
        jwk_algorithm(jwk, jwk_to_public_key(jwk))
    verifier = _verifier([{**jwk, "kid": "k"}])
    with pytest.raises(Exception) as caught:
        verifier.verify_sync(_token("k", "EdDSA", rfc_private_key()))
    assert getattr(caught.value, "code", None) == "unusable_key", caught.value
    assert reason in str(caught.value)


def test_bad_signature_lengths_and_tampering_are_bad_signatures() -> None:
    verifier = _verifier([{**RFC8037_PUBLIC, "kid": "rfc", "alg": "EdDSA"}])
    token = _token("rfc", "EdDSA", rfc_private_key())
    head, payload, signature = token.split(".")
    raw = b64url_decode(signature)
    for bad in (raw[:-1], raw + b"\0", raw[:32], b"\0" * 64, bytes([raw[0] ^ 1]) + raw[1:],
                b"\0" * 66):
        assert code(verifier, f"{head}.{payload}.{b64url_encode(bad)}") == "bad_signature", len(bad)
    assert code(verifier, token) == "ok"


def test_ed448_as_an_algorithm_name_is_refused() -> None:
    verifier = _verifier([{**RFC8037_PUBLIC, "kid": "rfc", "alg": "EdDSA"}])
    token = _token("rfc", "EdDSA", rfc_private_key())
    _, payload, signature = token.split(".")
    header = b64url_encode(json.dumps({"alg": "Ed448", "kid": "rfc", "typ": "at+jwt"}).encode())
    assert code(verifier, f"{header}.{payload}.{signature}") == "unsupported_alg"
