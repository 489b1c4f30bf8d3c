"""Federated identities and federation issuer settings: the pattern syntax, claim conditions,
the default service account rule, and the configuration refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.token.federated_identity import IdentityError, compile_pattern, parse_identity
from app.token.federation import read_federation_file
from app.token.registry import RegistryError, parse_client
from signet.verifier import VerifierConfigError, VerifierSettings

K8S = "https://oidc.cluster.example"
SIGNET = "https://signet.example"


@pytest.mark.parametrize(("pattern", "subject", "matches"), [
    ("system:serviceaccount:payments:*", "system:serviceaccount:payments:api", True),
    ("system:serviceaccount:payments:*", "system:serviceaccount:payments:api:x", False),
    ("system:serviceaccount:payments:*", "system:serviceaccount:payments:", False),
    ("system:serviceaccount:payments:*", "system:serviceaccount:payments:a/b", False),
    ("system:serviceaccount:pay*:api", "system:serviceaccount:payments:api", True),
    ("system:serviceaccount:pay*:api", "system:serviceaccount:pay:x:api", False),
    ("spiffe://example.org/ns/orders/**", "spiffe://example.org/ns/orders/sa/web", True),
    ("spiffe://example.org/ns/orders/*", "spiffe://example.org/ns/orders/sa/web", False),
    ("repo:octo-org/app:ref:refs/heads/*", "repo:octo-org/app:ref:refs/heads/main", True),
    ("repo:octo-org/app:ref:refs/heads/*", "repo:octo-org/app:ref:refs/heads/a/b", False),
    ("a.b+c?*", "a.b+c?x", True),  # regex metacharacters are literal
    ("a.b+c?*", "aXb+c?x", False),
])
def test_pattern_segments(pattern: str, subject: str, matches: bool) -> None:
    assert bool(compile_pattern(pattern).fullmatch(subject)) is matches


@pytest.mark.parametrize("pattern", ["*", "**", "***", "a***b", "*:*"])
def test_patterns_that_say_too_little_are_refused(pattern: str) -> None:
    if pattern == "*:*":
        compile_pattern(pattern)  # a literal ':' is something
        return
    with pytest.raises(IdentityError):
        compile_pattern(pattern)


def _identity(**entry: Any) -> Any:
    return parse_identity({"issuer": K8S, **entry}, "test")


def test_default_service_account_needs_the_exact_subject() -> None:
    default = "system:serviceaccount:payments:default"
    assert not _identity(subject_pattern="system:serviceaccount:payments:*").matches(K8S, default, (), {})
    assert not _identity(subject_pattern="system:serviceaccount:**").matches(K8S, default, (), {})
    assert _identity(subject=default).matches(K8S, default, (), {})


def test_claim_conditions() -> None:
    identity = _identity(subject="s", claims={"kubernetes.io": {"namespace": "payments"},
                                              "environment": ["prod", "staging"]})
    good = {"kubernetes.io": {"namespace": "payments"}, "environment": "prod"}
    assert identity.matches(K8S, "s", (), good)
    assert not identity.matches(K8S, "s", (), {**good, "environment": "dev"})
    assert not identity.matches(K8S, "s", (), {**good, "kubernetes.io": {"namespace": "orders"}})
    assert not identity.matches(K8S, "s", (), {"environment": "prod"})  # missing claim
    assert not identity.matches(K8S, "s", (), {**good, "kubernetes.io": "payments"})
    assert not identity.matches("https://other.example", "s", (), good)


def test_declared_audience_must_be_carried() -> None:
    identity = _identity(subject="s", audience=SIGNET)
    assert identity.matches(K8S, "s", (SIGNET,), {})
    assert not identity.matches(K8S, "s", (SIGNET + "/token",), {})


@pytest.mark.parametrize(("entry", "reason"), [
    ({"subject": "s", "subject_pattern": "s:*"}, "exactly one of"),
    ({}, "exactly one of"),
    ({"subject": "s", "sub": "x"}, "unknown field"),
    ({"subject": ""}, "1-512"),
    ({"subject": "s", "claims": {}}, "non-empty mapping"),
    ({"subject": "s", "claims": {"ref": 3}}, "must be a string"),
    ({"subject": "s", "claims": {"ref": []}}, "non-empty strings"),
    ({"subject": "s", "audience": " "}, "audience"),
    ({"subject_pattern": "**"}, "nothing literal"),
])
def test_bad_identities_are_refused(entry: dict[str, Any], reason: str) -> None:
    with pytest.raises(IdentityError, match=reason):
        _identity(**entry)


def test_a_client_may_authenticate_by_federation_alone() -> None:
    client = parse_client("svc", {"scopes": ["read"], "audiences": ["api://x"], "federated": [
        {"issuer": K8S, "subject": "system:serviceaccount:ns:svc"}]})
    assert client.auth_methods == ("federated",)
    assert client.record()["federated"] == [{"issuer": K8S, "subject": "system:serviceaccount:ns:svc"}]
    with pytest.raises(RegistryError, match="federated"):
        parse_client("svc", {"scopes": ["read"], "audiences": ["api://x"], "federated": []})


def _federation(tmp_path: Path, body: str) -> Any:
    path = tmp_path / "federation.toml"
    path.write_text(body)
    return read_federation_file(path, audiences=(SIGNET,), max_lifetime=3600, own_issuer=SIGNET)


@pytest.mark.parametrize(("body", "reason"), [
    (f'[[issuer]]\nissuer = "{SIGNET}/"\nprofile = "kubernetes"\n', "own issuer"),
    (f'[[issuer]]\nissuer = "{K8S}"\n', "'profile' is required"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "rfc9068"\n', "unknown issuer profile"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\nreplay = "never"\n', "'replay'"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\nmax_lifetime_seconds = 7200\n',
     "max_lifetime_seconds"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\naudiences = ["x"]\n', "unknown key"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\ntrust_domain = "x.org"\n', "trust_domain"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\njwks_url = "{K8S}/k"\n'
     'jwks_file = "/k.json"\n', "not both"),
    ('[[issuer]]\nissuer = "http://cluster.example"\nprofile = "kubernetes"\n', "https"),
    (f'[[issuer]]\nissuer = "{K8S}"\nprofile = "kubernetes"\n[[issuer]]\nissuer = "{K8S}"\n'
     'profile = "spiffe"\n', "trusted twice"),
])
def test_federation_file_refusals(tmp_path: Path, body: str, reason: str) -> None:
    with pytest.raises(VerifierConfigError, match=reason) as raised:
        _federation(tmp_path, body)
    assert str(raised.value).startswith("SIGNET_FEDERATION_ISSUERS_FILE")


def test_federation_defaults_per_profile(tmp_path: Path) -> None:
    issuers = _federation(tmp_path, f"""
[[issuer]]
issuer = "{K8S}"
profile = "kubernetes"
[[issuer]]
issuer = "https://token.actions.githubusercontent.com"
profile = "github-actions"
[[issuer]]
issuer = "http://127.0.0.1:1"
profile = "kubernetes"
jwks_file = "/etc/signet/cluster.jwks.json"
""")
    kube, github, offline = issuers
    assert (kube.replay, kube.trusted.algorithms) == ("reuse", ("RS256", "ES256"))
    assert (github.replay, github.trusted.algorithms) == ("once", ("RS256",))
    assert offline.trusted.jwks_file == "/etc/signet/cluster.jwks.json"
    assert kube.trusted.audiences == (SIGNET,)


@pytest.mark.parametrize("profile", ["kubernetes", "spiffe", "github-actions"])
def test_workload_profiles_never_verify_access_tokens(profile: str) -> None:
    """A downstream verifier cannot be told to take a workload identity as an access token."""
    with pytest.raises(VerifierConfigError, match="unknown issuer profile"):
        VerifierSettings.create(K8S, "api://x", profile=profile)
    with pytest.raises(VerifierConfigError, match="unknown issuer profile"):
        VerifierSettings.create((), "api://x", trusted_issuers=[{"issuer": K8S, "profile": profile}])
