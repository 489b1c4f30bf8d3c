"""Federated client authentication end to end: workload identity tokens as client assertions.

Loopback issuers shaped as a Kubernetes service-account issuer (discovery + JWKS), a SPIFFE
trust bundle (a JWKS URL), GitHub Actions (discovery), a second cluster whose JWKS is a
local file, and one issuer nobody trusts; their tokens are signed by PyJWT
(tests/support/workload_issuers.py). Signet runs under uvicorn with the real Redis; every
request goes over HTTP. No mocks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from signet.client import SignetAuth, TokenRequestError
from tests.support.processes import RunningIssuer
from tests.support.redis_servers import RedisServer
from tests.support.tokens import (
    add_client,
    assertion_form,
    audit_lines,
    post_token,
    run_cli,
    verify_access_token,
)
from tests.support.workload_issuers import (
    WorkloadIssuer,
    github_claims,
    kubernetes_claims,
    spiffe_claims,
)

FAILED = {"error": "invalid_client", "error_description": "client authentication failed"}


@dataclass
class World:
    signet: RunningIssuer
    kube: WorkloadIssuer
    spiffe: WorkloadIssuer
    github: WorkloadIssuer
    offline: WorkloadIssuer  # its JWKS reaches Signet as a file only
    stranger: WorkloadIssuer  # trusted by nobody
    secret: str  # of the `classic` client (a client_secret client)
    gone: WorkloadIssuer  # trusted, but stopped: its keys cannot be had

    @property
    def audience(self) -> str:
        return self.signet.base  # Signet's issuer URL: the default federation audience

    def kube_token(self, namespace: str = "payments", name: str = "api", **extra: Any) -> str:
        return self.kube.sign(kubernetes_claims(self.kube.url, self.audience, namespace, name, **extra))


def _client(scope: str, *identities: dict[str, Any]) -> dict[str, Any]:
    return {"scopes": [scope], "default_scopes": [scope], "audiences": [f"api://{scope}"],
            "federated": list(identities)}


def _federated_clients(kube: str, spiffe: str, github: str) -> dict[str, Any]:
    return {"clients": {
        "payments": _client("payments.read", {
            "issuer": kube, "subject_pattern": "system:serviceaccount:payments:*",
            "claims": {"kubernetes.io": {"namespace": "payments"}}}),
        "batch": _client("batch.run", {"issuer": kube, "subject": "system:serviceaccount:batch:default"}),
        "orders-mesh": _client("orders.write", {
            "issuer": spiffe, "subject_pattern": "spiffe://example.org/ns/orders/sa/*"}),
        "deployer": _client("deploy", {
            "issuer": github, "subject": "repo:octo-org/app:environment:prod",
            "claims": {"repository": "octo-org/app", "ref": "refs/heads/main", "environment": ["prod"]}}),
    }}


@pytest.fixture(scope="module")
def world(make_issuer: Any, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with _world(make_issuer, redis_url, tmp_path_factory.mktemp("federation")) as started:
        yield started


@contextmanager
def _world(make_issuer: Any, redis_url: str, tmp: Path) -> Iterator[World]:
    kube, github = WorkloadIssuer(), WorkloadIssuer()
    spiffe = WorkloadIssuer(discovery=False, jwks_path="/bundle")
    offline, stranger, gone = WorkloadIssuer(), WorkloadIssuer(), WorkloadIssuer()
    gone.stop()  # trusted, but its keys can never be fetched
    (tmp / "cluster-b-jwks.json").write_text(json.dumps(offline.jwks()))
    (tmp / "federation.toml").write_text(f"""
[[issuer]]
issuer = "{kube.url}"
profile = "kubernetes"

[[issuer]]
issuer = "{spiffe.url}"
profile = "spiffe"
jwks_url = "{spiffe.jwks_url}"
trust_domain = "example.org"

[[issuer]]
issuer = "{github.url}"
profile = "github-actions"
max_lifetime_seconds = 900

[[issuer]]
issuer = "{offline.url}"
profile = "kubernetes"
jwks_file = "{tmp / 'cluster-b-jwks.json'}"

[[issuer]]
issuer = "{gone.url}"
profile = "kubernetes"
""")
    clients = tmp / "clients.yaml"
    clients.write_text(yaml.safe_dump(_federated_clients(kube.url, spiffe.url, github.url)))
    clients.chmod(0o600)
    env = {"SIGNET_CLIENTS_FILE": str(clients),
           "SIGNET_FEDERATION_ISSUERS_FILE": str(tmp / "federation.toml"),
           "SIGNET_REDIS_URL": redis_url, "SIGNET_REDIS_PREFIX": f"test-fed-{uuid.uuid4().hex[:8]}:",
           "SIGNET_FEDERATION_MAX_ASSERTION_LIFETIME_SECONDS": "3600",
           "SIGNET_AUTH_FAILURES_PER_ADDRESS": "1000"}  # this module's refusals all come from loopback
    # A client_secret client added with the CLI: the CLI rewrites the file, federated records included.
    secret = add_client(env, "classic", "--scope", "read", "--audience", "api://classic") or ""
    assert add_client(env, "cluster-b-job", "--scope", "jobs", "--audience", "api://jobs",
                      "--federated-issuer", offline.url,
                      "--federated-subject", "system:serviceaccount:jobs:runner",
                      "--federated-claim", "kubernetes.io/namespace=jobs") is None  # no secret
    signet = make_issuer(env)
    try:
        yield World(signet, kube, spiffe, github, offline, stranger, secret, gone)
    finally:
        for issuer in (kube, spiffe, github, offline, stranger):
            issuer.stop()


def _post(world: World, token: str, **extra: str) -> httpx.Response:
    return post_token(world.signet.base, assertion_form(token, **extra))


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == FAILED


def test_a_pod_token_authenticates_its_client(world: World) -> None:
    response = _post(world, world.kube_token())
    assert response.status_code == 200, response.text
    claims = verify_access_token(world.signet.base, response.json()["access_token"], "api://payments.read")
    assert claims["client_id"] == claims["sub"] == "payments"
    assert claims["scope"] == "payments.read"
    issued = audit_lines(world.signet.service, "token_issued")[-1]
    assert issued["auth_method"] == "federated"
    assert issued["federated_identity"] == f"{world.kube.url} system:serviceaccount:payments:*"


def test_kubernetes_tokens_are_reused_until_rewritten(world: World) -> None:
    """The kubelet hands the pod one token until it rewrites the file: each call must work."""
    token = world.kube_token()
    assert [_post(world, token).status_code for _ in range(3)] == [200, 200, 200]


def test_spiffe_github_and_file_issuers(world: World) -> None:
    svid = world.spiffe.sign(spiffe_claims(world.spiffe.url, world.audience,
                                           "spiffe://example.org/ns/orders/sa/web"), {"typ": "JWT"})
    assert _post(world, svid).status_code == 200
    ci = world.github.sign(github_claims(world.github.url, world.audience, "octo-org/app", "prod"),
                           {"typ": "JWT"})
    response = _post(world, ci)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "deploy"
    job = world.offline.sign(kubernetes_claims(world.offline.url, world.audience, "jobs", "runner"))
    assert _post(world, job).status_code == 200


def test_default_service_account_only_when_named_exactly(world: World) -> None:
    assert _post(world, world.kube_token("batch", "default")).status_code == 200
    _refused(_post(world, world.kube_token("payments", "default")))  # the pattern never takes it


def test_metrics_count_the_method(world: World) -> None:
    assert _post(world, world.kube_token()).status_code == 200
    text = httpx.get(world.signet.base + "/metrics", timeout=10).text
    line = next(line for line in text.splitlines()
                if line.startswith('signet_client_authentications_total{method="federated"}'))
    assert float(line.split()[-1]) >= 1


def _hs256_with_public_key(world: World) -> str:
    """The classic key-confusion forgery: HMAC keyed with the issuer's public key PEM."""
    pem = world.kube.public_key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = kubernetes_claims(world.kube.url, world.audience, "payments", "api")
    segments = [base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
                for part in ({"alg": "HS256", "kid": world.kube.kid}, claims)]
    signing_input = b".".join(segments)
    mac = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + mac).decode()


def _alg_none(world: World) -> str:
    claims = kubernetes_claims(world.kube.url, world.audience, "payments", "api")
    segments = [base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
                for part in ({"alg": "none", "kid": world.kube.kid}, claims)]
    return ".".join(segments) + "."


def _refusals(world: World) -> dict[str, str]:
    now = int(time.time())
    kube, url, aud = world.kube, world.kube.url, world.audience
    k8s = kubernetes_claims
    return {
        "wrong audience": kube.sign(k8s(url, "https://elsewhere.example", "payments", "api")),
        "token endpoint audience not configured": kube.sign(k8s(url, aud + "/token", "payments", "api")),
        "expired": kube.sign(k8s(url, aud, "payments", "api", now=now - 1200)),
        "not yet valid": kube.sign({**k8s(url, aud, "payments", "api"), "nbf": now + 600}),
        "issued in the future": kube.sign({**k8s(url, aud, "payments", "api"), "iat": now + 600}),
        "lives too long": kube.sign(k8s(url, aud, "payments", "api", lifetime=7200)),
        "other namespace": kube.sign(k8s(url, aud, "orders", "api")),
        "right subject, untrusted issuer": world.stranger.sign(
            k8s(world.stranger.url, aud, "payments", "api")),
        "right subject, issuer claimed by an untrusted key": world.stranger.sign(
            k8s(url, aud, "payments", "api"), {"kid": kube.kid}),
        "pattern must not cross a ':' segment": kube.sign(k8s(url, aud, "payments", "api:admin")),
        "sub disagrees with kubernetes.io": kube.sign(
            {**k8s(url, aud, "payments", "api"), "sub": "system:serviceaccount:payments:other"}),
        "kubernetes.io names another namespace": kube.sign({**k8s(url, aud, "payments", "api"),
                                          "sub": "system:serviceaccount:payments:api",
                                          "kubernetes.io": {"namespace": "orders",
                                                            "serviceaccount": {"name": "api", "uid": "u"}}}),
        "bound token past warnafter": kube.sign(k8s(url, aud, "payments", "api", now=now - 400, lifetime=3000)
                                                | {"kubernetes.io": {**k8s(url, aud, "payments", "api")[
                                                    "kubernetes.io"], "warnafter": now - 100}}),
        "pod binding without uid": kube.sign(k8s(url, aud, "payments", "api") | {"kubernetes.io": {
            "namespace": "payments", "serviceaccount": {"name": "api", "uid": "u"},
            "pod": {"name": "p"}}}),
        "at+jwt typ": kube.sign(k8s(url, aud, "payments", "api"), {"typ": "at+jwt"}),
        "alg none": _alg_none(world),
        "HS256 keyed with the public key": _hs256_with_public_key(world),
        "spiffe id outside the trust domain": world.spiffe.sign(spiffe_claims(
            world.spiffe.url, aud, "spiffe://evil.org/ns/orders/sa/web")),
        "spiffe pattern must not cross '/'": world.spiffe.sign(spiffe_claims(
            world.spiffe.url, aud, "spiffe://example.org/ns/orders/sa/web/extra")),
        "github ref condition": world.github.sign(github_claims(
            world.github.url, aud, "octo-org/app", "prod", ref="refs/heads/feature"), {"typ": "JWT"}),
        "github repository of another owner": world.github.sign(github_claims(
            world.github.url, aud, "evil-org/app", "prod") | {"sub": "repo:octo-org/app:environment:prod"},
            {"typ": "JWT"}),
        "github past its issuer's max lifetime": world.github.sign(github_claims(
            world.github.url, aud, "octo-org/app", "prod", lifetime=1800), {"typ": "JWT"}),
        "github without jti": world.github.sign({k: v for k, v in github_claims(
            world.github.url, aud, "octo-org/app", "prod").items() if k != "jti"}, {"typ": "JWT"}),
        "not a JWT": "not.a.jwt",
    }


# Each refusal and the reason its audit line must give (the caller sees FAILED only).
NO_CLIENT = "no client declares this identity"
REFUSALS = {
    "wrong audience": "wrong_audience", "token endpoint audience not configured": "wrong_audience",
    "expired": "expired", "not yet valid": "not_yet_valid", "issued in the future": "iat_in_future",
    "lives too long": "lives longer than 3600 s", "other namespace": NO_CLIENT,
    "right subject, untrusted issuer": "client authentication failed",  # not federated at all
    "right subject, issuer claimed by an untrusted key": "bad_signature",
    "pattern must not cross a ':' segment": NO_CLIENT,
    "sub disagrees with kubernetes.io": "sub does not name the kubernetes.io service account",
    "kubernetes.io names another namespace": "sub does not name the kubernetes.io service account",
    "bound token past warnafter": "past the bound token's own lifetime",
    "pod binding without uid": "kubernetes.io pod binding lacks name or uid",
    "at+jwt typ": "wrong_typ", "alg none": "unsupported_alg",
    "HS256 keyed with the public key": "unsupported_alg",
    "spiffe id outside the trust domain": "sub is not a SPIFFE ID under spiffe://example.org/",
    "spiffe pattern must not cross '/'": NO_CLIENT, "github ref condition": NO_CLIENT,
    "github repository of another owner": NO_CLIENT,
    "github past its issuer's max lifetime": "lives longer than 900 s",
    "github without jti": "missing_claim", "not a JWT": "client assertion is not a JWT",
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_are_one_401(world: World, case: str) -> None:
    refusals = _refusals(world)
    assert sorted(refusals) == sorted(REFUSALS)
    response = _post(world, refusals[case])
    line = audit_lines(world.signet.service, "token_refused")[-1]
    assert (line.get("detail") or line["description"]).startswith(REFUSALS[case]), line
    if case == "not a JWT":  # no issuer to tell: the private_key_jwt path's own refusal
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
        return
    assert line["auth_method"] == ("private_key_jwt" if "untrusted issuer" in case else "federated")
    _refused(response)


def test_refusal_reason_reaches_the_audit_line_only(world: World) -> None:
    _refused(_post(world, world.kube_token("orders", "api")))
    refused = audit_lines(world.signet.service, "token_refused")[-1]
    assert refused["auth_method"] == "federated"
    assert refused["detail"] == "no client declares this identity"


def test_github_tokens_are_single_use(world: World) -> None:
    token = world.github.sign(github_claims(world.github.url, world.audience, "octo-org/app", "prod"),
                              {"typ": "JWT"})
    assert _post(world, token).status_code == 200
    _refused(_post(world, token))
    assert audit_lines(world.signet.service, "token_refused")[-1]["detail"] == "jti already used (replay)"


def test_a_signet_access_token_is_not_a_client_assertion(world: World) -> None:
    issued = post_token(world.signet.base, {"grant_type": "client_credentials"},
                        auth=("classic", world.secret))
    assert issued.status_code == 200, issued.text
    response = _post(world, issued.json()["access_token"])
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_workload_token_is_not_a_signet_access_token(world: World) -> None:
    """The demo service's verifier (Signet's own profile) refuses a pod's token."""
    from signet.verifier import Verifier, WrongType

    verifier = Verifier(world.signet.base, world.audience)
    try:
        with pytest.raises(WrongType):
            verifier.verify_sync(world.kube_token())
    finally:
        verifier.close()


def test_unreachable_issuer_keys_are_503_not_401(world: World) -> None:
    """Not the client's fault: try later (as for an unreachable signing key), never a 500."""
    token = world.gone.sign(kubernetes_claims(world.gone.url, world.audience, "payments", "api"))
    response = _post(world, token)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"


def test_client_id_must_name_the_declaring_client(world: World) -> None:
    assert _post(world, world.kube_token(), client_id="payments").status_code == 200
    _refused(_post(world, world.kube_token(), client_id="batch"))


def test_issuer_rotates_its_key_mid_run(world: World) -> None:
    assert _post(world, world.kube_token()).status_code == 200
    before = world.kube.jwks_requests
    world.kube.rotate()  # the old key leaves the JWKS; Signet learns the new kid on first sight
    response = _post(world, world.kube_token())
    assert response.status_code == 200, response.text
    assert world.kube.jwks_requests > before


def test_registry_round_trips_federated_identities(world: World) -> None:
    document = yaml.safe_load(Path(world.signet.env["SIGNET_CLIENTS_FILE"]).read_text())
    assert document["clients"]["payments"]["federated"][0]["subject_pattern"] == (
        "system:serviceaccount:payments:*")
    assert "classic" in document["clients"]
    assert document["clients"]["cluster-b-job"]["federated"] == [{  # written by the CLI
        "issuer": world.offline.url, "subject": "system:serviceaccount:jobs:runner",
        "claims": {"kubernetes.io": {"namespace": "jobs"}}}]
    assert "secret_hash" not in document["clients"]["cluster-b-job"]


def _kubelet_write(directory: Path, token: str, generation: int) -> Path:
    """Write `token` the way the kubelet updates a projected volume: a new timestamped
    directory, then an atomic swap of the `..data` symlink that `token` points through."""
    target = directory / f"..{generation}"
    target.mkdir()
    (target / "token").write_text(token)
    link = directory / "..data_tmp"
    link.symlink_to(target.name)
    link.replace(directory / "..data")
    path = directory / "token"
    if not path.is_symlink():
        path.symlink_to("..data/token")
    return path


def test_a_pod_client_follows_its_rewritten_token_file(world: World, tmp_path: Path) -> None:
    path = _kubelet_write(tmp_path, world.kube_token(), 0)
    auth = SignetAuth.from_assertion_file(world.signet.base + "/token", path)
    first = auth.sync_token()
    for generation in (1, 2):  # the kubelet rewrites the file; the client keeps getting tokens
        _kubelet_write(tmp_path, world.kube_token(), generation)
        token = auth.sync_token(rejected=first)  # as after a 401 from the resource server
        assert token != first
        assert verify_access_token(world.signet.base, token, "api://payments.read")["sub"] == "payments"
        first = token
    assert auth.assertion_file is not None and auth.assertion_file.reads == 3
    _kubelet_write(tmp_path, world.kube_token("orders", "api"), 3)  # the new content is what is sent
    with pytest.raises(TokenRequestError) as refused:
        auth.sync_token(rejected=first)
    assert (refused.value.status, refused.value.error) == (401, "invalid_client")


def test_cli_token_with_an_assertion_file(world: World, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(world.kube_token() + "\n")
    printed = run_cli(world.signet.env, "token", "--assertion-file", str(path),
                      "--issuer", world.signet.base)
    body = json.loads(printed.stdout)
    assert verify_access_token(world.signet.base, body["access_token"], "api://payments.read")
    missing = run_cli(world.signet.env, "token", "--assertion-file", str(tmp_path / "none"),
                      "--issuer", world.signet.base, check=False)
    assert missing.returncode != 0 and "cannot read --assertion-file" in missing.stderr


def test_redis_killed_mid_run(make_issuer: Any, tmp_path: Path) -> None:
    """Keys stay in memory and single use falls back to memory: tokens keep coming, and a
    GitHub token replayed after the outage began is still refused (by this replica)."""
    server = RedisServer().start()
    try:
        with _world(make_issuer, server.url, tmp_path) as world:
            ci = github_claims(world.github.url, world.audience, "octo-org/app", "prod")
            assert _post(world, world.github.sign(ci, {"typ": "JWT"})).status_code == 200
            assert _post(world, world.kube_token()).status_code == 200
            server.kill()
            assert _post(world, world.kube_token()).status_code == 200
            fresh = world.github.sign(github_claims(world.github.url, world.audience, "octo-org/app",
                                                    "prod"), {"typ": "JWT"})
            assert _post(world, fresh).status_code == 200
            _refused(_post(world, fresh))
    finally:
        server.stop()


def test_a_single_use_token_raced_from_many_connections_works_once(world: World) -> None:
    """Twelve concurrent requests with one GitHub token: the Redis SET NX lets one through."""
    from concurrent.futures import ThreadPoolExecutor

    token = world.github.sign(github_claims(world.github.url, world.audience, "octo-org/app", "prod"),
                              {"typ": "JWT"})
    with ThreadPoolExecutor(12) as pool:
        codes = sorted(pool.map(lambda _: _post(world, token).status_code, range(12)))
    assert codes == [200] + [401] * 11


def test_an_untrusted_issuer_with_a_client_id_is_still_401(world: World) -> None:
    """Naming a client does not turn an unknown issuer's token into a 400 that says more."""
    token = world.stranger.sign(kubernetes_claims(world.stranger.url, world.audience, "payments", "api"))
    _refused(_post(world, token, client_id="payments"))
