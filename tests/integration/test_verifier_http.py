"""The demo service (app.demo, behind SignetAuthMiddleware) under uvicorn, with a real issuer,
real Redis, and attack tokens from RFC 8725 and the JWT CVE history: every attack gets a 401
with an RFC 6750 challenge, never a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.hashes import SHA256

from signet.algorithms import ALGORITHMS
from signet.jose import b64url_encode
from signet.jwk import public_key_to_jwk
from signet.keys.local import LocalSigningKey, generate_private_key
from tests.support.counting_proxy import CountingProxy
from tests.support.processes import Service, free_port, json_error_message, start_demo, start_issuer
from tests.support.verifier_tokens import AUDIENCE, access_claims, make_token, open_key, segment, sign_claims

JWKS = "/.well-known/jwks.json"


@dataclass
class Stack:
    issuer: str
    demo: str
    jwks_proxy: CountingProxy  # between the demo and the issuer
    attacker: CountingProxy  # what jku/x5u headers point at: must never be asked
    es256: LocalSigningKey
    rs256: LocalSigningKey


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    key_dir = tmp_path_factory.mktemp("keys")
    rs256 = asyncio.run(open_key(key_dir, "RS256"))
    es256 = asyncio.run(open_key(key_dir, "ES256"))  # signs; both are published
    issuer_service, issuer = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(key_dir)})
    jwks_proxy, attacker = CountingProxy(issuer), CountingProxy(issuer)
    demo_service, demo = start_demo({
        "SIGNET_VERIFIER_ISSUER": issuer, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
        "SIGNET_VERIFIER_JWKS_URL": jwks_proxy.url + JWKS, "SIGNET_REDIS_URL": redis_url,
        "SIGNET_VERIFIER_REDIS_PREFIX": f"signet-test:{uuid.uuid4().hex}:",
        "SIGNET_CACHE_INTEGRITY_KEY": "demo-integrity-key-0123456789"})
    try:
        yield Stack(issuer, demo, jwks_proxy, attacker, es256, rs256)
    finally:
        demo_service.stop()
        issuer_service.stop()
        jwks_proxy.stop()
        attacker.stop()


def get(stack: Stack, path: str, token: str | bytes | None = None,
        authorization: str | bytes | None = None) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = (b"Bearer " + token) if isinstance(token, bytes) else f"Bearer {token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.get(stack.demo + path, headers=headers, timeout=10)


def test_warm_up_fetched_the_keys_before_the_first_request(stack: Stack) -> None:
    assert stack.jwks_proxy.count(JWKS) == 1
    assert get(stack, "/healthz").json() == {"status": "ok"}


def test_whoami_returns_the_verified_claims(stack: Stack) -> None:
    claims = access_claims(stack.issuer, scope="read write")
    response = get(stack, "/whoami", sign_claims(stack.es256, claims))
    assert response.status_code == 200
    assert response.json() == claims
    assert stack.jwks_proxy.count(JWKS) == 1  # verified from memory


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Digest x"])
def test_no_bearer_token_gets_a_challenge_without_error(stack: Stack, authorization: str | None) -> None:
    """RFC 6750 section 3.1: no `error` attribute when the request had no bearer token."""
    response = get(stack, "/whoami", authorization=authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"


def test_bearer_without_a_token_is_an_invalid_token(stack: Stack) -> None:
    response = get(stack, "/whoami", authorization="Bearer")
    assert response.status_code == 401 and response.json()["code"] == "malformed"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_admin_needs_the_admin_scope(stack: Stack) -> None:
    reader = get(stack, "/admin", sign_claims(stack.es256, access_claims(stack.issuer, scope="read")))
    assert reader.status_code == 403
    assert reader.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="the access token lacks a required'
        ' scope", scope="admin"')
    assert reader.json() == {"error": "insufficient_scope", "code": "insufficient_scope",
                             "error_description": "the access token lacks a required scope"}
    admin = get(stack, "/admin", sign_claims(stack.es256, access_claims(stack.issuer, scope="read admin")))
    assert admin.status_code == 200 and admin.json() == {"admin": True, "sub": "client-1"}


def test_typ_variants_that_are_access_tokens(stack: Stack) -> None:
    for typ in ("at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"):
        token = sign_claims(stack.es256, access_claims(stack.issuer), typ=typ)
        assert get(stack, "/whoami", token).status_code == 200, typ


# -- attacks --------------------------------------------------------------------------

Attack = Callable[[Stack], "str | bytes"]


def _claims(stack: Stack, **changes: Any) -> dict[str, Any]:
    return access_claims(stack.issuer, **changes)


def _header(stack: Stack, **changes: Any) -> dict[str, Any]:
    header = {"alg": "ES256", "kid": stack.es256.published.kid, "typ": "at+jwt", **changes}
    return {k: v for k, v in header.items() if v is not None}


def _alg_none(name: str, with_signature: bool) -> Attack:
    def build(stack: Stack) -> str:
        token = make_token(None, _claims(stack), header=_header(stack, alg=name), signature=b"")
        return token + ("c2lnbmF0dXJl" if with_signature else "")
    return build


def _hs256_with_public_key(form: str) -> Attack:
    """CVE-2015-9235 family: HMAC keyed with the verifier's own public key."""
    def build(stack: Stack) -> str:
        public = stack.rs256.published.public_key if form == "rsa-pem" else stack.es256.published.public_key
        secret = (public.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
                  if form.endswith("pem") else json.dumps(stack.es256.published.jwk).encode())
        kid = stack.rs256.published.kid if form == "rsa-pem" else stack.es256.published.kid
        data = f"{segment(_header(stack, alg='HS256', kid=kid))}.{segment(_claims(stack))}"
        return f"{data}.{b64url_encode(hmac.new(secret, data.encode(), hashlib.sha256).digest())}"
    return build


def _attacker_signed(**header_extra: Any) -> Attack:
    """Signed by the attacker's own key, which the header offers in some form."""
    def build(stack: Stack) -> str:
        key = generate_private_key(ALGORITHMS["ES256"])
        jwk = public_key_to_jwk(key.public_key(), ALGORITHMS["ES256"])
        extra = {name: jwk if value == "JWK" else value.replace("ATTACKER", stack.attacker.url)
                 if isinstance(value, str) else value for name, value in header_extra.items()}
        header = _header(stack, kid=jwk["kid"], **extra)
        return make_token(None, _claims(stack), header=header, private_key=key, alg=ALGORITHMS["ES256"])
    return build


def _signed(claims: Callable[[Stack], Any] | None = None, **header: Any) -> Attack:
    def build(stack: Stack) -> str:
        payload = claims(stack) if claims else _claims(stack)
        return make_token(stack.es256, payload, header=_header(stack, **header))
    return build


def _with_signature(signature: Callable[[Stack, bytes], bytes]) -> Attack:
    def build(stack: Stack) -> str:
        data = f"{segment(_header(stack))}.{segment(_claims(stack))}"
        return f"{data}.{b64url_encode(signature(stack, data.encode()))}"
    return build


def _der_signature(stack: Stack, data: bytes) -> bytes:
    return stack.es256.private_key.sign(data, ec.ECDSA(SHA256()))  # type: ignore[call-arg]


def _non_canonical_signature(stack: Stack) -> str:
    token = sign_claims(stack.es256, _claims(stack))
    head, sig = token.rsplit(".", 1)
    # 64 bytes -> 86 chars; the last char carries 4 unused bits. Setting one decodes the same.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return f"{head}.{sig[:-1]}{alphabet[alphabet.index(sig[-1]) | 1]}"


def _padded_payload(stack: Stack) -> str:
    header, payload, sig = sign_claims(stack.es256, _claims(stack)).split(".")
    return f"{header}.{payload}{'=' * (-len(payload) % 4) or '=='}.{sig}"


def _standard_alphabet(stack: Stack) -> str:
    """The same bytes spelt with "+" and "/" instead of "-" and "_"."""
    for _ in range(100):  # until a signature happens to contain "-" or "_"
        header, payload, sig = sign_claims(stack.es256, _claims(stack)).split(".")
        if "-" in sig or "_" in sig:
            return f"{header}.{payload}.{sig.replace('-', '+').replace('_', '/')}"
    raise AssertionError("no signature with - or _ in 100 tries")


def _tampered_payload(stack: Stack) -> str:
    header, _, sig = sign_claims(stack.es256, _claims(stack)).split(".")
    return f"{header}.{segment(_claims(stack, scope='read admin'))}.{sig}"


def _pss_with_rs256_key(stack: Stack) -> str:
    """An RSA key published for RS256 used to sign PS256: refused, the alg is bound to the key."""
    data = f"{segment(_header(stack, alg='PS256', kid=stack.rs256.published.kid))}.{segment(_claims(stack))}"
    signature = stack.rs256.private_key.sign(  # type: ignore[call-arg]
        data.encode(), padding.PSS(padding.MGF1(SHA256()), 32), SHA256())
    return f"{data}.{b64url_encode(signature)}"


def _huge(stack: Stack) -> str:
    # Over the verifier's 8 KiB limit, under uvicorn's header limit (which would answer first).
    return sign_claims(stack.es256, _claims(stack, pad="x" * 7_000))


def _deeply_nested(stack: Stack) -> str:
    claims = json.dumps(_claims(stack))[:-1].encode()
    payload = claims + b', "deep": ' + b"[" * 2000 + b"1" + b"]" * 2000 + b"}"
    return make_token(stack.es256, payload, header=_header(stack))


def s_now() -> int:
    return int(time.time())


ATTACKS: dict[str, tuple[Attack, str]] = {
    "alg none": (_alg_none("none", False), "unsupported_alg"),
    "alg None": (_alg_none("None", False), "unsupported_alg"),
    "alg NONE with signature": (_alg_none("NONE", True), "unsupported_alg"),
    "alg nOnE": (_alg_none("nOnE", False), "unsupported_alg"),
    "HS256 keyed with the RSA public key PEM": (_hs256_with_public_key("rsa-pem"), "unsupported_alg"),
    "HS256 keyed with the EC public key PEM": (_hs256_with_public_key("ec-pem"), "unsupported_alg"),
    "HS256 keyed with the JWK": (_hs256_with_public_key("jwk"), "unsupported_alg"),
    "embedded jwk": (_attacker_signed(jwk="JWK"), "forbidden_header"),
    "jku to the attacker": (_attacker_signed(jku="ATTACKER/jwks.json"), "forbidden_header"),
    "x5u to the attacker": (_attacker_signed(x5u="ATTACKER/cert.pem"), "forbidden_header"),
    "x5c chain": (_attacker_signed(x5c=["MIIBszCCAVmgAwIBAgIU"]), "forbidden_header"),
    "b64 false": (_signed(b64=False, crit=["b64"]), "forbidden_header"),
    "attacker key with a known kid": (lambda s: make_token(
        None, _claims(s), header=_header(s), private_key=generate_private_key(ALGORITHMS["ES256"]),
        alg=ALGORITHMS["ES256"]), "bad_signature"),
    "unknown crit": (_signed(crit=["signet-ext"], **{"signet-ext": 1}), "unsupported_crit"),
    "crit naming a registered header": (_signed(crit=["kid"]), "unsupported_crit"),
    "ECDSA r=s=0 (CVE-2022-21449)": (_with_signature(lambda s, d: bytes(64)), "bad_signature"),
    "DER-encoded ES256 signature": (_with_signature(_der_signature), "bad_signature"),
    "empty signature": (_with_signature(lambda s, d: b""), "bad_signature"),
    "non-canonical base64url signature": (_non_canonical_signature, "malformed"),
    "padded payload": (_padded_payload, "malformed"),
    "standard base64 alphabet": (_standard_alphabet, "malformed"),
    "tampered payload": (_tampered_payload, "bad_signature"),
    "RS256 header on the EC key": (_signed(alg="RS256"), "alg_mismatch"),
    "PS256 with a key bound to RS256": (_pss_with_rs256_key, "alg_mismatch"),
    "ES384 header on a P-256 key": (_signed(alg="ES384"), "alg_mismatch"),
    "string exp": (_signed(lambda s: _claims(s, exp="9999999999")), "invalid_claim"),
    "boolean exp": (_signed(lambda s: _claims(s, exp=True)), "invalid_claim"),
    "null sub": (_signed(lambda s: {**_claims(s), "sub": None}), "invalid_claim"),
    "numeric jti": (_signed(lambda s: _claims(s, jti=7)), "invalid_claim"),
    "payload is an array": (_signed(lambda s: [_claims(s)]), "malformed"),
    "payload is a string": (_signed(lambda s: "claims"), "malformed"),
    "payload is a number": (_signed(lambda s: 42), "malformed"),
    "payload is null": (_signed(lambda s: None), "malformed"),
    "payload is not JSON": (_signed(lambda s: b"{'iss': 1}"), "malformed"),
    "payload with NaN": (_signed(lambda s: b'{"exp": NaN}'), "malformed"),
    "header is not JSON": (
        lambda s: "eyJhbGciOiJFUzI1NiI." + sign_claims(s.es256, _claims(s)).split(".", 1)[1], "malformed"),
    "typ JWT": (_signed(typ="JWT"), "wrong_typ"),
    "typ missing": (_signed(typ=None), "wrong_typ"),
    "typ application/jwt": (_signed(typ="application/jwt"), "wrong_typ"),
    "typ at+jwt with suffix": (_signed(typ="at+jwt; x"), "wrong_typ"),
    "issuer with a suffix": (_signed(lambda s: _claims(s, iss=s.issuer + "x")), "wrong_issuer"),
    "issuer prefix only": (_signed(lambda s: _claims(s, iss=s.issuer[:-1])), "wrong_issuer"),
    "issuer inside another": (_signed(lambda s: _claims(s, iss="x" + s.issuer + "/")), "wrong_issuer"),
    "issuer as a list": (_signed(lambda s: _claims(s, iss=[s.issuer])), "invalid_claim"),
    "audience empty list": (_signed(lambda s: _claims(s, aud=[])), "invalid_claim"),
    "audience nested list": (_signed(lambda s: _claims(s, aud=[[AUDIENCE]])), "invalid_claim"),
    "audience object": (_signed(lambda s: _claims(s, aud={AUDIENCE: True})), "invalid_claim"),
    "audience with a space": (_signed(lambda s: _claims(s, aud=AUDIENCE + " ")), "wrong_audience"),
    "audience substring": (_signed(lambda s: _claims(s, aud=AUDIENCE[:-1])), "wrong_audience"),
    "audience comma list": (_signed(lambda s: _claims(s, aud=f"{AUDIENCE},api://x")), "wrong_audience"),
    "audience list of others": (_signed(lambda s: _claims(s, aud=["api://x", "api://y"])), "wrong_audience"),
    "audience null": (_signed(lambda s: {**_claims(s), "aud": None}), "invalid_claim"),
    "expired": (_signed(lambda s: _claims(s, exp=s_now() - 31)), "expired"),
    "not yet valid": (_signed(lambda s: _claims(s, nbf=s_now() + 120)), "not_yet_valid"),
    "issued in the future": (_signed(lambda s: _claims(s, iat=s_now() + 120)), "iat_in_future"),
    "no client_id": (_signed(lambda s: _claims(s, client_id=None)), "missing_claim"),
    "no kid": (_signed(kid=None), "unknown_kid"),
    "kid path traversal": (_signed(kid="../../../../etc/passwd"), "unknown_kid"),
    "huge token": (_huge, "too_large"),
    "deeply nested payload": (_deeply_nested, "malformed"),
    "four segments": (lambda s: sign_claims(s.es256, _claims(s)) + ".x", "malformed"),
    "JWE-shaped": (lambda s: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "malformed"),
    "two segments": (lambda s: sign_claims(s.es256, _claims(s)).rsplit(".", 1)[0], "malformed"),
    "non-ASCII token": (lambda s: sign_claims(s.es256, _claims(s)).encode() + b"\xe9", "malformed"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_gets_401(stack: Stack, name: str) -> None:
    build, code = ATTACKS[name]
    response = get(stack, "/whoami", build(stack))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert response.json()["error_description"] in challenge


def test_attacks_never_reached_the_attacker_or_refetched_much(stack: Stack) -> None:
    """Runs after the attacks (file order): jku/x5u were never followed, and the unknown kids
    caused at most a couple of refetches (cooldown), never one per token."""
    assert sum(stack.attacker.counts.values()) == 0
    assert stack.jwks_proxy.count(JWKS) <= 3


def test_bad_demo_configuration_stops_startup_with_one_line(tmp_path: Path) -> None:
    cases = {
        "SIGNET_VERIFIER_ISSUER: required": {"SIGNET_VERIFIER_AUDIENCE": AUDIENCE},
        "SIGNET_VERIFIER_LEEWAY: must be a duration": {
            "SIGNET_VERIFIER_ISSUER": "https://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "a",
            "SIGNET_VERIFIER_LEEWAY": "soon"},
        "SIGNET_VERIFIER_ISSUER: 'http://issuer.example' must be an https URL": {
            "SIGNET_VERIFIER_ISSUER": "http://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "a"},
        "SIGNET_CACHE_INTEGRITY_KEY: must be at least 16 bytes": {
            "SIGNET_VERIFIER_ISSUER": "https://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "a",
            "SIGNET_CACHE_INTEGRITY_KEY": "short"},
    }
    services = {expected: Service("demo-bad", [sys.executable, "-m", "uvicorn", "app.demo:app",
                                              "--port", str(free_port())], env)
                for expected, env in cases.items()}
    try:
        for expected, service in services.items():
            assert service.wait_exit(60) != 0
            output = service.output()
            assert "Traceback" not in output
            # one JSON error line, as the issuer's (uvicorn's lines are in Signet's format)
            assert json_error_message(output, expected).startswith("Signet cannot start: ")
    finally:
        for service in services.values():
            service.stop()
