"""Issuer profiles and keys without `alg`, offline: tokens signed by PyJWT (not Signet's signer)
in the shapes each provider documents (tests/support/provider_tokens.py), keys preloaded.

One verifier trusts a Signet-shaped RFC 9068 issuer and every preset's issuer at once, as a
service behind several identity providers would.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signet.algorithms import ALGORITHMS
from signet.jwk import public_key_to_jwk
from signet.verifier import SignetError, Verifier, VerifierConfigError
from tests.support.clock import Clock
from tests.support.provider_tokens import PROVIDERS, Provider, Shape, at
from tests.support.verifier_tokens import refusal_code as code

NOW = 1_800_000_000
HOST = "https://idp.unit.test"
SIGNET = "https://signet.unit.test"
SIGNET_AUDIENCE = "api://orders"

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())


def jwk_of(private: Any, alg: str, kid: str, *, named: bool = True) -> dict[str, Any]:
    jwk = public_key_to_jwk(private.public_key(), ALGORITHMS[alg])
    jwk["kid"] = kid
    if not named:
        del jwk["alg"]
    return jwk


def issuer_of(provider: Provider) -> str:
    return HOST + provider.path.rstrip("/") + ("/" if provider.path == "/" else "")


def sign(private: Any, alg: str, kid: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid, **header})


@pytest.fixture
def verifier() -> Verifier:
    tables = [{"issuer": issuer_of(p), "profile": p.profile, "audiences": list(p.audiences),
               "jwks_url": issuer_of(p).rstrip("/") + "/keys"} for p in PROVIDERS]
    verifier = Verifier(SIGNET, SIGNET_AUDIENCE, jwks_url=SIGNET + "/jwks", trusted_issuers=tables,
                        clock=Clock(NOW))
    verifier.load_jwks(SIGNET, json.dumps({"keys": [jwk_of(_EC, "ES256", "signet-1")]}))
    for provider in PROVIDERS:
        key = jwk_of(_RSA, provider.alg, f"{provider.profile}-1", named=provider.key_has_alg)
        verifier.load_jwks(issuer_of(provider), json.dumps({"keys": [key]}))
    return verifier


CASES = [(provider, shape) for provider in PROVIDERS for shape in provider.shapes]


@pytest.mark.parametrize(("provider", "shape"), CASES,
                         ids=[f"{p.profile}-{s.name}" for p, s in CASES])
def test_each_preset_accepts_its_access_tokens_and_refuses_the_rest(
        verifier: Verifier, provider: Provider, shape: Shape) -> None:
    issuer = issuer_of(provider)
    token = sign(_RSA, provider.alg, f"{provider.profile}-1", shape.header, at(shape.claims, issuer, NOW))
    assert code(verifier, token) == shape.expect
    if shape.expect == "ok":
        claims = verifier.verify_sync(token)
        assert (claims.scopes, claims.client_id, claims.subject) == (
            shape.scopes, shape.client_id, shape.subject)


@pytest.mark.parametrize("provider", PROVIDERS, ids=[p.profile for p in PROVIDERS])
def test_no_profile_loosens_signature_algorithm_issuer_or_time(verifier: Verifier,
                                                                provider: Provider) -> None:
    issuer, kid = issuer_of(provider), f"{provider.profile}-1"
    good = next(s for s in provider.shapes if s.expect == "ok")
    claims = at(good.claims, issuer, NOW)

    def token(**changes: Any) -> str:
        return sign(_RSA, provider.alg, kid, good.header,
                    {k: v for k, v in {**claims, **changes}.items() if v is not None})

    assert code(verifier, token()) == "ok"
    assert code(verifier, token(exp=None)) == "missing_claim"
    assert code(verifier, token(exp=NOW - 31)) == "expired"
    assert code(verifier, token(iat=NOW + 60)) == "iat_in_future"
    assert code(verifier, token(iss=HOST + "/elsewhere")) == "wrong_issuer"
    forged = sign(_OTHER_RSA, provider.alg, kid, good.header, claims)
    assert code(verifier, forged) == "bad_signature"
    head = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": kid}).encode()).decode()
    assert code(verifier, head + "." + token().split(".")[1] + ".") == "unsupported_alg"
    assert code(verifier, jwt.encode(claims, "k" * 32, algorithm="HS256",
                                     headers={"kid": kid})) == "unsupported_alg"
    assert code(verifier, sign(_RSA, "RS256", kid, {**good.header, "jku": "https://x"},
                               claims)) == "forbidden_header"


def test_one_issuers_key_never_verifies_another_issuers_token(verifier: Verifier) -> None:
    """Every provider here publishes the same RSA key; a token naming another issuer's kid,
    or Signet's issuer with a provider's kid, finds no key of that issuer."""
    okta, keycloak = PROVIDERS[2], PROVIDERS[0]
    claims = at(okta.shapes[0].claims, issuer_of(keycloak), NOW)
    assert code(verifier, sign(_RSA, "RS256", "okta-1", {}, claims)) == "unknown_kid"
    signet_claims = {"iss": SIGNET, "sub": "c", "client_id": "c", "aud": SIGNET_AUDIENCE,
                     "iat": NOW, "exp": NOW + 60, "jti": "j"}
    assert code(verifier, sign(_RSA, "RS256", "okta-1", {"typ": "at+jwt"}, signet_claims)) == "unknown_kid"
    assert code(verifier, sign(_EC, "ES256", "signet-1", {"typ": "at+jwt"}, signet_claims)) == "ok"


def test_signets_own_issuer_keeps_rfc9068_rules_beside_looser_profiles(verifier: Verifier) -> None:
    claims = {"iss": SIGNET, "sub": "c", "client_id": "c", "aud": SIGNET_AUDIENCE,
              "iat": NOW, "exp": NOW + 60, "jti": "j"}
    assert code(verifier, sign(_EC, "ES256", "signet-1", {"typ": "JWT"}, claims)) == "wrong_typ"
    assert code(verifier, sign(_EC, "ES256", "signet-1", {}, claims)) == "wrong_typ"
    no_client = {k: v for k, v in claims.items() if k != "client_id"}
    assert code(verifier, sign(_EC, "ES256", "signet-1", {"typ": "at+jwt"}, no_client)) == "missing_claim"


def _alg_less_verifier(**options: Any) -> Verifier:
    verifier = Verifier(HOST, "api://x", jwks_url=HOST + "/keys", clock=Clock(NOW), **options)
    keys = [jwk_of(_RSA, "RS256", "rsa", named=False), jwk_of(_EC, "ES256", "ec", named=False)]
    verifier.load_jwks(HOST, json.dumps({"keys": keys}))
    return verifier


def _claims() -> dict[str, Any]:
    return {"iss": HOST, "sub": "c", "client_id": "c", "aud": "api://x", "iat": NOW,
            "exp": NOW + 60, "jti": "j"}


def test_a_key_without_alg_is_bound_by_type_and_configuration_never_by_the_header() -> None:
    verifier = _alg_less_verifier()
    typ = {"typ": "at+jwt"}
    assert code(verifier, sign(_RSA, "RS256", "rsa", typ, _claims())) == "ok"
    assert code(verifier, sign(_RSA, "PS256", "rsa", typ, _claims())) == "alg_mismatch"
    assert code(verifier, sign(_RSA, "RS512", "rsa", typ, _claims())) == "alg_mismatch"
    assert code(verifier, sign(_EC, "ES256", "ec", typ, _claims())) == "ok"
    both = _alg_less_verifier(algorithms="RS256,PS256,ES256")
    assert code(both, sign(_RSA, "PS256", "rsa", typ, _claims())) == "ok"
    assert code(both, sign(_RSA, "RS256", "rsa", typ, _claims())) == "ok"
    assert code(both, sign(_RSA, "RS384", "rsa", typ, _claims())) == "unsupported_alg"


def test_a_key_that_cannot_be_used_says_why_instead_of_unknown_kid() -> None:
    verifier = _alg_less_verifier(algorithms="ES256")
    with pytest.raises(SignetError) as refused:
        verifier.verify_sync(sign(_EC, "ES256", "rsa", {"typ": "at+jwt"}, _claims()))
    assert refused.value.code == "unusable_key"
    assert "no 'alg'" in str(refused.value) and "RSA" in str(refused.value)
    assert code(verifier, sign(_EC, "ES256", "ec", {"typ": "at+jwt"}, _claims())) == "ok"
    assert code(verifier, sign(_EC, "ES256", "nowhere", {"typ": "at+jwt"}, _claims())) == "unknown_kid"


@pytest.mark.parametrize(("table", "direct", "message"), [
    ('issuer = "https://cognito.example/pool"\nprofile = "cognito"\n', None,
     "SIGNET_VERIFIER_ISSUERS_FILE.*app client ids"),
    ('issuer = "https://a.example"\nprofile = "okta"\naudience = "x"\n', None, "unknown key.*audience"),
    ('issuer = "https://a.example"\nprofile = "oktaa"\naudiences = "x"\n', None,
     "unknown issuer profile 'oktaa'.*okta"),
    ('issuer = "https://a.example"\naudiences = ["x"]\n', "https://a.example", "trusted twice"),
])
def test_issuer_tables_are_checked_and_name_what_to_fix(tmp_path: Any, table: str, direct: str | None,
                                                         message: str) -> None:
    path = tmp_path / "issuers.toml"
    path.write_text("[[issuer]]\n" + table)
    with pytest.raises(VerifierConfigError, match=message):
        Verifier(direct, "y" if direct else None, issuers_file=str(path))


def test_a_broken_issuers_file_or_profile_variable_is_named(tmp_path: Any) -> None:
    path = tmp_path / "issuers.toml"
    path.write_text('[[issuer]\n')
    with pytest.raises(VerifierConfigError, match="not valid TOML"):
        Verifier(issuers_file=str(path))
    with pytest.raises(VerifierConfigError, match="SIGNET_VERIFIER_PROFILE"):
        Verifier.from_env({"SIGNET_VERIFIER_ISSUER": "https://a.example",
                           "SIGNET_VERIFIER_AUDIENCE": "x", "SIGNET_VERIFIER_PROFILE": "google"})


def test_the_environment_alone_can_trust_one_provider() -> None:
    okta = PROVIDERS[2]
    issuer = issuer_of(okta)
    verifier = Verifier.from_env({"SIGNET_VERIFIER_ISSUER": issuer, "SIGNET_VERIFIER_AUDIENCE":
                                  "api://default", "SIGNET_VERIFIER_PROFILE": "okta",
                                  "SIGNET_VERIFIER_JWKS_URL": issuer + "/keys"})
    verifier.load_jwks(issuer, json.dumps({"keys": [jwk_of(_RSA, "RS256", "k")]}))
    claims = at(okta.shapes[0].claims, issuer, int(__import__("time").time()))
    assert verifier.verify_sync(sign(_RSA, "RS256", "k", {}, claims)).client_id == "0oa1abc"


def test_made_up_kids_do_not_decode_the_key_set_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of tokens with made-up kids, or with a published but unusable kid, costs a
    lookup each, not a JSON decode of the issuer's whole key set (up to 100 keys) per token;
    the unusable kid still says why. The decoder is wrapped only to count its calls."""
    import signet.verifier.keys as keys_module

    verifier = Verifier(HOST, "api://x", jwks_url=HOST + "/keys", clock=Clock(NOW), algorithms="ES256")
    many = [jwk_of(_EC, "ES256", f"ec-{n}") for n in range(99)] + [jwk_of(_RSA, "RS256", "rsa", named=False)]
    verifier.load_jwks(HOST, json.dumps({"keys": many}))
    decode, calls = keys_module._entries, []
    monkeypatch.setattr(keys_module, "_entries", lambda document: calls.append(1) or decode(document))
    made_up = [sign(_EC, "ES256", f"made-up-{n}", {"typ": "at+jwt"}, _claims()) for n in range(200)]
    assert {code(verifier, token) for token in made_up} == {"unknown_kid"}
    unusable = [sign(_EC, "ES256", "rsa", {"typ": "at+jwt"}, _claims()) for _ in range(50)]
    assert {code(verifier, token) for token in unusable} == {"unusable_key"}
    assert len(calls) <= 2  # the kids once, the unusable key's reason once
    assert code(verifier, sign(_EC, "ES256", "ec-5", {"typ": "at+jwt"}, _claims())) == "ok"


def test_the_kid_lookup_follows_a_new_key_set() -> None:
    """After the key set changes, a kid that became published-but-unusable says why, and a
    kid that became usable verifies: the per-document kid lookup is not left stale."""
    verifier = _alg_less_verifier(algorithms="ES256")
    token = sign(_EC, "ES256", "later", {"typ": "at+jwt"}, _claims())
    assert code(verifier, token) == "unknown_kid"
    verifier.load_jwks(HOST, json.dumps({"keys": [jwk_of(_RSA, "RS256", "later", named=False)]}))
    assert code(verifier, token) == "unusable_key"
    verifier.load_jwks(HOST, json.dumps({"keys": [jwk_of(_EC, "ES256", "later", named=False)]}))
    assert code(verifier, token) == "ok"
