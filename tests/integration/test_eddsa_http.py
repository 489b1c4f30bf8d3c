"""EdDSA (RFC 8037) end to end over HTTP: uvicorn issuers with SIGNET_SIGNING_ALG=EdDSA or
Ed25519, the Signet verifier finding their keys by discovery; an Ed25519 client key for
private_key_jwt; delegated mode with local EdDSA ephemeral keys attested by an ES256 root
in moto's KMS server over HTTP, real Redis; and KMS with EdDSA refused at start-up."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.attestation import ATTESTATION_MEMBER
from signet.jose import b64url_decode, compact, signing_input
from signet.jwk import public_key_to_jwk
from signet.verifier import Verifier
from tests.integration.test_issuer_http import _start_failure
from tests.support.metrics import Scrape
from tests.support.processes import RunningIssuer, json_error_message
from tests.support.tokens import post_token
from tests.support.verifier_tokens import refusal_code as code

AUDIENCE = "api://eddsa"
JWKS = "/.well-known/jwks.json"


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[0]))  # type: ignore[no-any-return]


def client_token(issuer: RunningIssuer, client: str = "svc") -> str:
    response = post_token(issuer.base, {"grant_type": "client_credentials"},
                          auth=(client, issuer.secrets[client]))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
async def test_local_backend_issues_eddsa_tokens_the_signet_verifier_accepts(make_issuer, alg: str) -> None:  # type: ignore[no-untyped-def]
    issuer = make_issuer({"SIGNET_SIGNING_ALG": alg},
                         clients={"svc": ("--scope", "read", "--audience", AUDIENCE)})
    token = client_token(issuer)
    assert header_of(token)["alg"] == alg
    (jwk,) = httpx.get(issuer.base + JWKS).json()["keys"]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "OKP", "crv": "Ed25519", "alg": alg, "use": "sig"}
    assert len(b64url_decode(jwk["x"])) == 32 and "d" not in jwk
    metadata = httpx.get(issuer.base + "/.well-known/oauth-authorization-server").json()
    assert metadata["access_token_signing_alg_values_supported"] == [alg]
    assert {"EdDSA", "Ed25519"} <= set(metadata["token_endpoint_auth_signing_alg_values_supported"])
    # The verifier as a service runs it: discovery, JWKS over HTTP, nothing preloaded.
    verifier = Verifier(issuer.base, AUDIENCE)
    try:
        claims = await verifier.verify(token)
        assert claims.client_id == "svc" and list(claims.scopes) == ["read"]
        # Header rewritten to the other name of the same signature: refused, the key's alg decides.
        other = "Ed25519" if alg == "EdDSA" else "EdDSA"
        forged = compact(signing_input({**header_of(token), "alg": other},
                                       json.loads(b64url_decode(token.split(".")[1]))),
                         b64url_decode(token.split(".")[2]))
        assert code(verifier, forged) == "alg_mismatch"
    finally:
        await verifier.aclose()
    # A verifier that does not allow EdDSA refuses the token before looking at any key.
    strict = Verifier(issuer.base, AUDIENCE, algorithms=["ES256"])
    try:
        assert code(strict, token) == "unsupported_alg"
    finally:
        await strict.aclose()


@pytest.mark.parametrize(("alg", "key_file"), [
    ("EdDSA", "jwks"), ("Ed25519", "jwks"), ("EdDSA", "pem"), ("Ed25519", "pem")])
def test_a_client_authenticates_with_an_ed25519_key(make_issuer, tmp_path: Path, alg: str,  # type: ignore[no-untyped-def]
                                                    key_file: str) -> None:
    """private_key_jwt (RFC 7523) with an OKP client key, as discovery says is accepted:
    registered as a JWKS naming its alg, or as a PEM (EdDSA unless --key-alg says Ed25519)."""
    private = ed25519.Ed25519PrivateKey.generate()
    jwk = public_key_to_jwk(private.public_key(), ALGORITHMS[alg])
    if key_file == "jwks":
        path, extra = tmp_path / "ed.jwks", ()
        path.write_text(json.dumps({"keys": [jwk]}))
    else:
        path, extra = tmp_path / "ed.pem", (("--key-alg", alg) if alg == "Ed25519" else ())
        path.write_bytes(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    issuer = make_issuer(clients={"ed-jwt": ("--scope", "read", "--audience", AUDIENCE,
                                             "--jwks-file", str(path), *extra)})
    assert issuer.secrets["ed-jwt"] == ""  # a key client: no secret
    now = int(time.time())
    claims = {"iss": "ed-jwt", "sub": "ed-jwt", "aud": issuer.base + "/token", "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex}
    data = signing_input({"alg": alg, "kid": jwk["kid"], "typ": "JWT"}, claims)
    assertion = compact(data, signatures.sign(ALGORITHMS[alg], private, data))
    form = {"grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    response = post_token(issuer.base, form)
    assert response.status_code == 200, response.text
    # The same assertion under the other name, or re-signed by another Ed25519 key: refused.
    other = "Ed25519" if alg == "EdDSA" else "EdDSA"
    data = signing_input({"alg": other, "kid": jwk["kid"], "typ": "JWT"}, {**claims, "jti": uuid.uuid4().hex})
    renamed = compact(data, signatures.sign(ALGORITHMS[other], private, data))
    assert post_token(issuer.base, {**form, "client_assertion": renamed}).status_code == 401
    stranger = ed25519.Ed25519PrivateKey.generate()
    data = signing_input({"alg": alg, "kid": jwk["kid"], "typ": "JWT"}, {**claims, "jti": uuid.uuid4().hex})
    forged = compact(data, signatures.sign(ALGORITHMS[alg], stranger, data))
    assert post_token(issuer.base, {**form, "client_assertion": forged}).status_code == 401


async def test_delegated_mode_signs_with_eddsa_ephemeral_keys_under_a_kms_root(
        make_issuer, kms, moto_endpoint: str, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    """The KMS root (ES256, moto over HTTP) attests local Ed25519 keys that sign the tokens."""
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    issuer = make_issuer({
        "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
        "SIGNET_KMS_ENDPOINT_URL": moto_endpoint, "SIGNET_KMS_REGION": "us-east-1",
        "SIGNET_SIGNING_MODE": "delegated", "SIGNET_SIGNING_ALG": "EdDSA",
        "SIGNET_DELEGATED_ROOT_ALG": "ES256", "SIGNET_DELEGATED_KEY_LIFETIME": "60s",
        "SIGNET_REDIS_URL": redis_url, "SIGNET_REDIS_PREFIX": f"signet-eddsa-{uuid.uuid4().hex[:8]}:",
        "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "1", "SIGNET_JWKS_MAX_AGE": "0",
        "SIGNET_KEY_RING_RELOAD_SECONDS": "0.5"},
        clients={"svc": ("--scope", "read", "--audience", AUDIENCE)})
    keys = httpx.get(issuer.base + JWKS).json()["keys"]
    (root,) = [k for k in keys if ATTESTATION_MEMBER not in k]
    assert (root["kty"], root["alg"]) == ("EC", "ES256")
    deadline, token = time.monotonic() + 30, client_token(issuer)
    signed_by: dict[str, int] = {}  # alg of the key that signed each token this test got
    signed_by[header_of(token)["alg"]] = 1
    while header_of(token)["kid"] == root["kid"]:  # the root signs until the first key is visible
        assert time.monotonic() < deadline, "no EdDSA ephemeral key began signing within 30 s"
        time.sleep(0.2)
        token = client_token(issuer)
        signed_by[header_of(token)["alg"]] = signed_by.get(header_of(token)["alg"], 0) + 1
    assert header_of(token)["alg"] == "EdDSA"
    served = {k["kid"]: k for k in httpx.get(issuer.base + JWKS).json()["keys"]}
    ephemeral = served[header_of(token)["kid"]]
    assert (ephemeral["kty"], ephemeral["crv"], ephemeral["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert header_of(ephemeral[ATTESTATION_MEMBER])["alg"] == "ES256"  # signed by the KMS root
    # /metrics labels each token with the algorithm of the key that signed it: the root's
    # ES256 for any token it signed before the first EdDSA key was visible, EdDSA after.
    issued = [s for s in Scrape.of(issuer.base + "/metrics").samples
              if s.name == "signet_tokens_issued_total"]
    assert {s.labels["alg"]: int(s.value) for s in issued if s.value} == signed_by, issued
    assert any(s.labels["alg"] == "EdDSA" for s in issued)
    pinned = Verifier(issuer.base, AUDIENCE, root_keys=root["kid"])
    try:
        assert (await pinned.verify(token)).client_id == "svc"
    finally:
        await pinned.aclose()
    # Pinned to another root, the same EdDSA key is not trusted.
    stranger = Verifier(issuer.base, AUDIENCE, root_keys="A" * 43)
    try:
        assert code(stranger, token) == "unusable_key"  # "not attested by a pinned root key"
    finally:
        await stranger.aclose()


@pytest.mark.parametrize(("env", "expected"), [
    ({"SIGNET_SIGNING_ALG": "EdDSA"}, "SIGNET_SIGNING_ALG: EdDSA cannot be signed by AWS KMS"),
    ({"SIGNET_SIGNING_ALG": "Ed25519", "SIGNET_SIGNING_MODE": "delegated"},
     "SIGNET_DELEGATED_ROOT_ALG: Ed25519 cannot be signed by AWS KMS"),
])
def test_kms_with_eddsa_stops_startup_naming_the_setting(env: dict[str, str], expected: str,
                                                         tmp_path: Path) -> None:
    output = _start_failure({"SIGNET_LOCAL_KEY_DIR": str(tmp_path), "SIGNET_KEY_BACKEND": "kms",
                             "SIGNET_KMS_KEY_ID": "alias/root", **env})
    message = json_error_message(output, expected)
    assert message.startswith("Signet cannot start"), output
    assert "botocore 1.40.61" in message and "Traceback" not in output
