"""Attestations (signet.attestation) and pinned roots (signet.verifier.roots): the ephemeral
key is accepted only when a pinned root vouches for exactly it, for this issuer, now.
Every refusal the delegated mode relies on has its own test. Pure: local keys, no I/O."""

from __future__ import annotations

import json
import time

import pytest

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.attestation import (
    ATTESTATION_MEMBER,
    AttestationError,
    RootKey,
    attestation_input,
    verify_attestation,
)
from signet.jose import b64url_decode, b64url_encode, compact, signing_input
from signet.keys.base import PublishedKey
from signet.keys.local import generate_private_key
from signet.verifier import Verifier
from signet.verifier.errors import UnknownKey, VerifierConfigError
from signet.verifier.keys import parse_jwks
from signet.verifier.roots import KeyTrust, RootPins

ISSUER = "https://issuer.example"
ES256, PS256 = ALGORITHMS["ES256"], ALGORITHMS["PS256"]
NOW = 1_800_000_000.0


class Pair:
    """A private key and its published form."""

    def __init__(self, alg=ES256) -> None:  # type: ignore[no-untyped-def]
        self.alg = alg
        self.private = generate_private_key(alg)
        self.published = PublishedKey(alg, self.private.public_key())  # type: ignore[arg-type]

    @property
    def jwk(self) -> dict:  # type: ignore[type-arg]
        return dict(self.published.jwk)

    def sign(self, data: bytes) -> bytes:
        return signatures.sign(self.alg, self.private, data)


ROOT, OTHER_ROOT = Pair(PS256), Pair(ES256)


def attest(key: Pair, root: Pair = ROOT, *, issuer: str = ISSUER, nbf: float = NOW - 10,
           exp: float = NOW + 3600, jwk: dict | None = None, root_kid: str | None = None) -> str:  # type: ignore[type-arg]
    data = attestation_input(issuer, jwk or key.jwk, root.alg.name, root_kid or root.published.kid,
                             nbf, exp, nbf)
    return compact(data, root.sign(data))


def roots(*pairs: Pair) -> dict[str, RootKey]:
    return {p.published.kid: RootKey.from_jwk(p.jwk) for p in pairs}


def reason(attestation: object, key: Pair, now: float = NOW, issuer: str = ISSUER) -> str:
    with pytest.raises(AttestationError) as info:
        verify_attestation(attestation, roots(ROOT), issuer, key.jwk, now)
    return info.value.reason


def test_a_valid_attestation_verifies_and_says_what_it_attests() -> None:
    key = Pair()
    result = verify_attestation(attest(key), roots(ROOT), ISSUER, key.jwk, NOW)
    assert (result.kid, result.issuer, result.root_kid) == (key.published.kid, ISSUER, ROOT.published.kid)
    assert result.expires == NOW + 3600


def test_missing_attestation_is_refused() -> None:
    assert reason(None, Pair()) == "missing"


def test_forged_attestation_is_refused() -> None:
    key, impostor = Pair(), Pair()
    header, payload, signature = attest(key).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["jwk"], claims["kid"] = impostor.jwk, impostor.published.kid  # swap in another key
    forged = f"{header}.{b64url_encode(json.dumps(claims).encode())}.{signature}"
    assert reason(forged, impostor) == "bad_signature"


def test_expired_and_not_yet_valid_attestations_are_refused() -> None:
    key = Pair()
    assert reason(attest(key, nbf=NOW - 7200, exp=NOW - 1), key) == "expired"
    assert reason(attest(key, nbf=NOW + 60, exp=NOW + 3600), key) == "not_yet_valid"


def test_attestation_signed_by_another_key_is_refused() -> None:
    key = Pair()
    assert reason(attest(key, root=OTHER_ROOT), key) == "unknown_root"
    # Another key that claims to be the pinned root in its header: the signature says otherwise.
    assert reason(attest(key, root=Pair(PS256), root_kid=ROOT.published.kid), key) == "bad_signature"


def test_attestation_naming_another_issuer_is_refused() -> None:
    key = Pair()
    assert reason(attest(key, issuer="https://evil.example"), key) == "wrong_issuer"


@pytest.mark.parametrize(("root_alg", "key_alg"), [("ES256", "EdDSA"), ("EdDSA", "EdDSA"),
                                                  ("Ed25519", "ES256"), ("PS256", "Ed25519")])
def test_eddsa_roots_and_keys_attest_and_are_attested(root_alg: str, key_alg: str) -> None:
    """Delegated mode with EdDSA on either side: an ES256 KMS root over local Ed25519 keys,
    or a local Ed25519 root; the attestation binds the key's algorithm name too."""
    root, key = Pair(ALGORITHMS[root_alg]), Pair(ALGORITHMS[key_alg])
    result = verify_attestation(attest(key, root), roots(root), ISSUER, key.jwk, NOW)
    assert (result.kid, result.root_kid) == (key.published.kid, root.published.kid)
    if key_alg in ("EdDSA", "Ed25519"):
        other = "Ed25519" if key_alg == "EdDSA" else "EdDSA"
        relabelled = {**key.jwk, "alg": other}
        with pytest.raises(AttestationError) as info:
            verify_attestation(attest(key, root, jwk=relabelled), roots(root), ISSUER, key.jwk, NOW)
        assert info.value.reason == "key_mismatch"


def test_attestation_of_another_key_is_refused() -> None:
    key, other = Pair(), Pair()
    assert reason(attest(other), key) == "key_mismatch"


def test_attestation_of_the_same_key_under_another_algorithm_is_refused() -> None:
    key = Pair()
    relabelled = {**key.jwk, "alg": "ES384"}
    assert reason(attest(key, jwk=relabelled), key) == "key_mismatch"


def test_a_token_is_not_an_attestation() -> None:
    """A JWS the root signed for another purpose (typ at+jwt) never vouches for a key."""
    key = Pair()
    data = signing_input({"alg": "PS256", "kid": ROOT.published.kid, "typ": "at+jwt"},
                         {"iss": ISSUER, "kid": key.published.kid, "jwk": key.jwk,
                          "nbf": NOW - 1, "exp": NOW + 60})
    assert reason(compact(data, ROOT.sign(data)), key) == "wrong_type"


def test_malformed_attestations_are_refused_not_crashed_on() -> None:
    key = Pair()
    for junk in ("", "a.b", "a.b.c", "!!.??.**", 42, "x" * 9000, attest(key)[:-3] + "@@@"):
        assert reason(junk, key) in {"malformed", "wrong_type", "bad_signature"}


def test_private_members_are_never_attested() -> None:
    with pytest.raises(ValueError, match="private"):
        attestation_input(ISSUER, {**Pair().jwk, "d": "AAAA"}, "PS256", "kid", NOW, NOW + 1, NOW)


# -- pinned roots in the verifier's JWKS parsing -------------------------------------------

def jwks(*entries: dict) -> str:  # type: ignore[type-arg]
    return json.dumps({"keys": list(entries)})


def attested(key: Pair, attestation: str | None) -> dict:  # type: ignore[type-arg]
    entry = key.jwk
    if attestation is not None:
        entry[ATTESTATION_MEMBER] = attestation
    return entry


def test_pinned_root_admits_only_attested_keys_and_the_root_itself() -> None:
    good, missing, forged_by_other, other_issuer, expired = (Pair() for _ in range(5))
    document = jwks(ROOT.jwk, attested(good, attest(good)), attested(missing, None),
                    attested(forged_by_other, attest(forged_by_other, root=OTHER_ROOT)),
                    attested(other_issuer, attest(other_issuer, issuer="https://evil.example")),
                    attested(expired, attest(expired, nbf=NOW - 7200, exp=NOW - 100)))
    trust = KeyTrust(RootPins.parse(ROOT.published.kid), ISSUER, 30.0, lambda: NOW)
    keys, problems = parse_jwks(document, ALGORITHMS, None, trust)
    assert set(keys) == {ROOT.published.kid, good.published.kid}
    assert keys[good.published.kid].not_after == NOW + 3600 + 30
    assert keys[ROOT.published.kid].not_after == float("inf")
    assert sorted(p.split("attestation ")[1].split(":")[0] for p in problems) == [
        "expired", "missing", "unknown_root", "wrong_issuer"]


def test_a_key_swapped_into_an_attested_entry_is_refused() -> None:
    """The JWKS entry's key material must be the attested key (an attacker reusing a valid
    attestation beside their own key gets nothing)."""
    good, attacker = Pair(), Pair()
    entry = {**attacker.jwk, ATTESTATION_MEMBER: attest(good)}
    trust = KeyTrust(RootPins.parse(ROOT.published.kid), ISSUER, 0.0, lambda: NOW)
    keys, problems = parse_jwks(jwks(ROOT.jwk, entry), ALGORITHMS, None, trust)
    assert set(keys) == {ROOT.published.kid} and "key_mismatch" in problems[0]
    entry = {**good.jwk, "kid": attacker.published.kid, ATTESTATION_MEMBER: attest(good)}
    keys, problems = parse_jwks(jwks(ROOT.jwk, entry), ALGORITHMS, None, trust)
    assert set(keys) == {ROOT.published.kid} and "key_mismatch" in problems[0]


def test_without_pins_attested_keys_are_ordinary_keys() -> None:
    good, plain = Pair(), Pair()
    keys, problems = parse_jwks(jwks(attested(good, attest(good)), plain.jwk), ALGORITHMS)
    assert set(keys) == {good.published.kid, plain.published.kid} and problems == []


def test_root_pins_parse_thumbprints_and_jwks_and_name_the_setting_when_wrong() -> None:
    assert RootPins.parse(f" {ROOT.published.kid} , {OTHER_ROOT.published.kid}").thumbprints == {
        ROOT.published.kid, OTHER_ROOT.published.kid}
    pins = RootPins.parse(json.dumps({"keys": [ROOT.jwk]}))
    assert set(pins.keys) == {ROOT.published.kid}
    for bad in ("not-a-thumbprint", "{oops", json.dumps({"kty": "EC"})):
        with pytest.raises(VerifierConfigError, match="SIGNET_VERIFIER_ROOT_KEYS"):
            Verifier(ISSUER, "api", jwks_url=ISSUER + "/jwks", root_keys=bad)


def token(key: Pair, lifetime: int = 300) -> str:
    now = int(time.time())
    header = {"alg": key.alg.name, "kid": key.published.kid, "typ": "at+jwt"}
    claims = {"iss": ISSUER, "sub": "svc", "aud": "api", "client_id": "svc", "iat": now,
              "exp": now + lifetime, "jti": f"j{now}{key.published.kid[:6]}"}
    data = signing_input(header, claims)
    return compact(data, key.sign(data))


async def test_verifier_with_pinned_root_accepts_attested_tokens_and_refuses_others() -> None:
    good, unattested = Pair(), Pair()
    now = time.time()
    verifier = Verifier(ISSUER, "api", jwks_url=ISSUER + "/jwks", root_keys=json.dumps(ROOT.jwk),
                        unknown_kid_cooldown_seconds=3600)
    verifier.load_jwks(ISSUER, jwks(attested(good, attest(good, nbf=now - 5, exp=now + 600)),
                                    unattested.jwk))
    try:
        assert (await verifier.verify(token(good)))["sub"] == "svc"
        with pytest.raises(UnknownKey):
            await verifier.verify(token(unattested))
    finally:
        await verifier.aclose()


async def test_verifier_refuses_a_key_once_its_attestation_expires() -> None:
    """Checked per token, not only when the JWKS is loaded."""
    good = Pair()
    clock = [time.time()]
    verifier = Verifier(ISSUER, "api", jwks_url=ISSUER + "/jwks", root_keys=ROOT.published.kid,
                        leeway=0, unknown_kid_cooldown_seconds=3600, token_cache_size=0,
                        clock=lambda: clock[0])
    verifier.load_jwks(ISSUER, jwks(ROOT.jwk, attested(good, attest(good, nbf=clock[0] - 5,
                                                                       exp=clock[0] + 60))))
    try:
        signed = token(good, lifetime=600)
        assert (await verifier.verify(signed))["sub"] == "svc"
        clock[0] += 61
        with pytest.raises(UnknownKey):
            await verifier.verify(signed)
    finally:
        await verifier.aclose()


def test_root_keys_come_from_the_environment_too() -> None:
    settings = Verifier.from_env({"SIGNET_VERIFIER_ISSUER": ISSUER, "SIGNET_VERIFIER_AUDIENCE": "api",
                                  "SIGNET_VERIFIER_JWKS_URL": ISSUER + "/jwks",
                                  "SIGNET_VERIFIER_ROOT_KEYS": ROOT.published.kid}).settings
    assert settings.root_keys is not None and settings.root_keys.thumbprints == {ROOT.published.kid}
    unpinned = Verifier.from_env({"SIGNET_VERIFIER_ISSUER": ISSUER, "SIGNET_VERIFIER_AUDIENCE": "api",
                                  "SIGNET_VERIFIER_JWKS_URL": ISSUER + "/jwks"}).settings
    assert unpinned.root_keys is None
