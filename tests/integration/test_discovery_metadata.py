"""Discovery metadata matches behaviour: authlib validates both documents as served by a real
issuer (uvicorn), and every listed value is really accepted while unlisted ones are refused.

The lists are read from the served document, not from Signet's tables, so a value added to
discovery without support (or support without discovery) fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import import_key

from signet.algorithms import ALGORITHMS, KeyFamily
from tests.support.processes import RunningIssuer
from tests.support.tokens import assertion_form, post_token

AUD = "api://discovery"
PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
CC = {"grant_type": "client_credentials"}
# joserfc warns that RFC 9864 deprecates the name EdDSA; Signet still lists (and accepts) it.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def _private_key(alg: str) -> Any:
    algorithm = ALGORITHMS[alg]
    if algorithm.family is KeyFamily.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm.family is KeyFamily.EC:
        return ec.generate_private_key(algorithm.new_curve())
    return ed25519.Ed25519PrivateKey.generate()  # the only other family Signet could list (OKP)


def _jwk(alg: str, private_key: Any) -> dict[str, Any]:
    """The public JWK as PyJWT writes it (not Signet's own converter)."""
    public = private_key.public_key()
    writer = {KeyFamily.RSA: jwt.algorithms.RSAAlgorithm, KeyFamily.EC: jwt.algorithms.ECAlgorithm}.get(
        ALGORITHMS[alg].family, jwt.algorithms.OKPAlgorithm)
    return {**writer.to_jwk(public, as_dict=True), "alg": alg, "kid": f"k-{alg}"}


class Issuer:
    def __init__(self, running: RunningIssuer, keys: dict[str, Any]) -> None:
        self.running = running
        self.base = running.base
        self.keys = keys  # alg -> private key of client "keyed-<family>"

    def document(self, path: str = PATHS[0]) -> dict[str, Any]:
        response = httpx.get(self.base + path, timeout=10)
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    @property
    def secret(self) -> tuple[str, str]:
        return ("secret", self.running.secrets["secret"])


def _keyed_client(alg: str) -> str:
    return "keyed-" + ALGORITHMS[alg].family.value.lower()


@pytest.fixture(scope="module", params=["ES256", "PS256"])
def issuer(request: pytest.FixtureRequest, make_issuer: Callable[..., RunningIssuer],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    """An issuer signing with `param`, with a secret client and one key client per key family
    holding a key for every algorithm in signet.algorithms (discovery must list each)."""
    tmp = tmp_path_factory.mktemp("discovery")
    keys = {alg: _private_key(alg) for alg in ALGORITHMS}
    families: dict[str, list[dict[str, Any]]] = {}
    for alg, key in keys.items():
        families.setdefault(_keyed_client(alg), []).append(_jwk(alg, key))
    clients: dict[str, tuple[str, ...]] = {"secret": ("--scope", "read", "--audience", AUD)}
    for client_id, jwks in families.items():
        path = Path(tmp / f"{client_id}.jwks")
        path.write_text(json.dumps({"keys": jwks}))
        clients[client_id] = ("--scope", "read", "--audience", AUD, "--jwks-file", str(path))
    yield Issuer(make_issuer({"SIGNET_SIGNING_ALG": request.param}, clients), keys)


@pytest.mark.parametrize("path", PATHS)
def test_authlib_validates_both_documents(issuer: Issuer, path: str) -> None:
    document = issuer.document(path)
    AuthorizationServerMetadata(document).validate()
    OpenIDProviderMetadata(document).validate()
    assert issuer.document(PATHS[1]) == issuer.document(PATHS[0])


def test_access_token_algorithms_are_what_the_backend_signs_with(issuer: Issuer) -> None:
    document = issuer.document()
    token = post_token(issuer.base, CC, auth=issuer.secret).json()["access_token"]
    header = jwt.get_unverified_header(token)
    served = [key["alg"] for key in httpx.get(document["jwks_uri"], timeout=10).json()["keys"]]
    assert document["access_token_signing_alg_values_supported"] == list(dict.fromkeys(served))
    assert header["alg"] in document["access_token_signing_alg_values_supported"]
    # No ID tokens: the same list, and RS256 because OpenID Connect Discovery requires it.
    id_token_algs = document["id_token_signing_alg_values_supported"]
    assert "RS256" in id_token_algs
    assert set(id_token_algs) - {"RS256"} <= set(document["access_token_signing_alg_values_supported"])


def test_claims_supported_are_the_claims_of_a_token(issuer: Issuer) -> None:
    document = issuer.document()
    token = post_token(issuer.base, CC, auth=issuer.secret).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert sorted(claims) == sorted(document["claims_supported"])
    assert document["subject_types_supported"] == ["public"]
    assert claims["sub"] == claims["client_id"] == "secret"  # public: the same for every audience


def _assertion_request(issuer: Issuer, alg: str) -> httpx.Response:
    """An RFC 7523 assertion signed with joserfc (it knows every name Signet lists, `Ed25519`
    included; PyJWT does not)."""
    client_id = _keyed_client(alg)
    key = import_key(issuer.keys[alg].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ALGORITHMS[alg].family.value)  # type: ignore[arg-type]
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": issuer.base + "/token", "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex}
    signed = joserfc_jwt.encode({"alg": alg, "kid": f"k-{alg}"}, claims, key, algorithms=[alg])
    return post_token(issuer.base, assertion_form(signed))


AUTH_REQUESTS: dict[str, Callable[[Issuer], httpx.Response]] = {
    "client_secret_basic": lambda i: post_token(i.base, CC, auth=i.secret),
    "client_secret_post": lambda i: post_token(
        i.base, {**CC, "client_id": i.secret[0], "client_secret": i.secret[1]}),
    "private_key_jwt": lambda i: _assertion_request(i, "ES256"),
}


def test_every_listed_auth_method_gets_a_token(issuer: Issuer) -> None:
    listed = issuer.document()["token_endpoint_auth_methods_supported"]
    assert set(listed) == set(AUTH_REQUESTS), "a listed method has no request here, or the reverse"
    for method in listed:
        response = AUTH_REQUESTS[method](issuer)
        assert response.status_code == 200, (method, response.text)


def test_unlisted_auth_methods_are_refused(issuer: Issuer) -> None:
    listed = issuer.document()["token_endpoint_auth_methods_supported"]
    client_id, secret = issuer.secret
    # client_secret_jwt: an HMAC assertion keyed with the client secret (RFC 7523 + OIDC Core 9).
    hmac = jwt.encode({"iss": client_id, "sub": client_id, "aud": issuer.base + "/token",
                       "exp": 2_000_000_000, "iat": 1_700_000_000, "jti": "hmac-1"}, secret, "HS256")
    refused = {"client_secret_jwt": post_token(issuer.base, assertion_form(hmac)),
               "none": post_token(issuer.base, {**CC, "client_id": client_id})}
    for method, response in refused.items():
        assert method not in listed
        assert response.status_code == 401, (method, response.text)
        assert response.json()["error"] == "invalid_client"


def test_every_listed_assertion_algorithm_gets_a_token(issuer: Issuer) -> None:
    listed = issuer.document()["token_endpoint_auth_signing_alg_values_supported"]
    assert listed, "private_key_jwt is listed, so its algorithms must be"
    for alg in listed:
        response = _assertion_request(issuer, alg)
        assert response.status_code == 200, (alg, response.text)


def _hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def test_unlisted_assertion_algorithms_are_refused(issuer: Issuer) -> None:
    listed = issuer.document()["token_endpoint_auth_signing_alg_values_supported"]
    client_id = _keyed_client("RS256")
    public_pem = issuer.keys["RS256"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": client_id, "sub": client_id, "aud": issuer.base + "/token",
              "exp": 2_000_000_000, "iat": 1_700_000_000}
    # HS256 keyed with the client's public key (algorithm confusion; PyJWT refuses to make it,
    # so by hand), and an unsigned assertion.
    forged = {"HS256": _hs256({"alg": "HS256", "kid": "k-RS256"}, {**claims, "jti": "hs"}, public_pem),
              "none": jwt.encode({**claims, "jti": "none"}, None, "none", headers={"kid": "k-RS256"})}
    for alg, token in forged.items():
        assert alg not in listed
        response = post_token(issuer.base, assertion_form(token))
        assert response.status_code == 401, (alg, response.text)
        assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["authorization_code", "password", "refresh_token",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer", "implicit"])
def test_only_listed_grant_types_are_accepted(issuer: Issuer, grant_type: str) -> None:
    assert grant_type not in issuer.document()["grant_types_supported"]
    response = post_token(issuer.base, {"grant_type": grant_type}, auth=issuer.secret)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_no_authorization_endpoint_so_response_type_none(issuer: Issuer) -> None:
    document = issuer.document()
    assert "authorization_endpoint" not in document
    assert document["response_types_supported"] == ["none"]
    assert document["request_uri_parameter_supported"] is False
    for path in ("/authorize", "/oauth2/authorize"):
        assert httpx.get(issuer.base + path, params={"response_type": "none"}, timeout=10).status_code == 404


def test_a_kms_backend_lists_what_its_key_signs_with(make_issuer: Callable[..., RunningIssuer],
                                                     moto_endpoint: str, kms: Any) -> None:
    """The KMS backend (moto over HTTP): an RSA key signing PS256 is what discovery lists."""
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    running = make_issuer({"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
                           "SIGNET_KMS_ENDPOINT_URL": moto_endpoint, "SIGNET_KMS_REGION": "us-east-1",
                           "SIGNET_SIGNING_ALG": "PS256"},
                          {"secret": ("--scope", "read", "--audience", AUD)})
    document = httpx.get(running.base + PATHS[0], timeout=10).json()
    AuthorizationServerMetadata(document).validate()
    OpenIDProviderMetadata(document).validate()
    token = post_token(running.base, CC, auth=("secret", running.secrets["secret"])).json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "PS256"
    assert document["access_token_signing_alg_values_supported"] == ["PS256"]
    assert document["id_token_signing_alg_values_supported"] == ["PS256", "RS256"]
