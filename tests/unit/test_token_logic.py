"""The token endpoint's pure logic, table-driven and in process: form parsing (RFC 6749
section 3.2), picking the one client authentication method (section 2.3), and the grant a
client gets (scopes, audience or RFC 8707 resource, lifetime) with its RFC 9068 claims."""

from __future__ import annotations

import base64

import pytest

from app.token.client_auth import Credentials, extract_credentials
from app.token.form import TokenForm, parse_form
from app.token.grants import grant_for
from app.token.oauth_errors import OAuthError
from app.token.registry import Client

FORM = "application/x-www-form-urlencoded"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    (FORM, b"grant_type=client_credentials", {"grant_type": ("client_credentials",)}),
    (FORM + "; charset=utf-8", b"grant_type=client_credentials&scope=a+b",
     {"grant_type": ("client_credentials",), "scope": ("a b",)}),
    (FORM, b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb",
     {"resource": ("https://a", "https://b")}),  # the one repeatable parameter (RFC 8707)
    (FORM, b"grant_type=client_credentials&scope=", {"grant_type": ("client_credentials",)}),
])
def test_well_formed_bodies_parse(content_type: str, body: bytes,
                                  expected: dict[str, tuple[str, ...]]) -> None:
    assert parse_form(content_type, body).values == expected


@pytest.mark.parametrize(("content_type", "body", "reason"), [
    ("application/json", b'{"grant_type": "client_credentials"}', "Content-Type must be"),
    (None, b"grant_type=client_credentials", "Content-Type must be"),
    (FORM, b"scope=a&scope=b", "appears more than once"),
    (FORM, b"grant_type", "malformed form body"),
    (FORM, b"scope=%ff", "malformed form body"),  # not UTF-8 once decoded
    (FORM, "scope=\u00e9".encode(), "malformed form body"),  # raw non-ASCII
    (FORM, b"&".join(b"p%d=1" % n for n in range(40)), "malformed form body"),  # too many fields
])
def test_malformed_bodies_are_400_with_a_reason(content_type: str | None, body: bytes,
                                                reason: str) -> None:
    with pytest.raises(OAuthError) as raised:
        parse_form(content_type, body)
    assert (raised.value.error, raised.value.status) == ("invalid_request", 400)
    assert reason in raised.value.description


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


ASSERTION = ("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMiLCJpc3MiOiJzdmMifQ."
             "c2lnbmF0dXJlLW5vdC1jaGVja2VkLWhlcmU")  # sub "svc"; verified later, not here


@pytest.mark.parametrize(("authorization", "form", "expected"), [
    (_basic("svc", "s3cret"), {}, Credentials("client_secret_basic", "svc", secret="s3cret")),
    (_basic("a%3Ab", "p+q"), {}, Credentials("client_secret_basic", "a:b", secret="p q")),  # form-encoded
    (None, {"client_id": ("svc",), "client_secret": ("s3cret",)},
     Credentials("client_secret_post", "svc", secret="s3cret")),
    (None, {"client_assertion_type": (JWT_BEARER,), "client_assertion": (ASSERTION,)},
     Credentials("private_key_jwt", "svc", assertion=ASSERTION)),
])
def test_exactly_one_method_gives_the_credentials(authorization: str | None,
                                                  form: dict[str, tuple[str, ...]],
                                                  expected: Credentials) -> None:
    assert extract_credentials(authorization, TokenForm(form)) == expected


@pytest.mark.parametrize(("authorization", "form", "error", "reason"), [
    (None, {}, "invalid_client", "client authentication required"),
    (_basic("svc", "x"), {"client_id": ("svc",), "client_secret": ("x",)}, "invalid_request",
     "more than one client authentication method"),
    ("Bearer abc", {}, "invalid_client", "use Basic"),
    ("Basic !!!", {}, "invalid_client", "malformed Basic credentials"),
    ("Basic " + base64.b64encode(b"no-colon").decode(), {}, "invalid_client", "malformed Basic"),
    (_basic("svc", "x"), {"client_id": ("other",)}, "invalid_request", "differs from the Basic"),
    (None, {"client_secret": ("x",)}, "invalid_request", "client_secret_post needs client_id"),
    (None, {"client_assertion": (ASSERTION,)}, "invalid_request", "needs both"),
    (None, {"client_assertion_type": ("urn:other",), "client_assertion": (ASSERTION,)},
     "invalid_client", "unsupported client_assertion_type"),
    (None, {"client_assertion_type": (JWT_BEARER,), "client_assertion": ("not-a-jwt",)},
     "invalid_client", "not a JWT with a sub claim"),
    (None, {"client_assertion_type": (JWT_BEARER,), "client_assertion": (ASSERTION,),
            "client_id": ("other",)}, "invalid_request", "differs from the client assertion"),
])
def test_no_method_or_a_muddled_one_is_refused(authorization: str | None,
                                               form: dict[str, tuple[str, ...]], error: str,
                                               reason: str) -> None:
    with pytest.raises(OAuthError) as raised:
        extract_credentials(authorization, TokenForm(form))
    assert raised.value.error == error and reason in raised.value.description


CLIENT = Client("svc", scopes=("read", "write"), default_scopes=("read",),
                audiences=("https://orders", "https://billing"))


@pytest.mark.parametrize(("client", "form", "scopes", "audience", "lifetime"), [
    (CLIENT, {}, ("read",), "https://orders", 300),  # defaults: default scopes, first audience
    (CLIENT, {"scope": ("write read write",)}, ("write", "read"), "https://orders", 300),
    (CLIENT, {"audience": ("https://billing",)}, ("read",), "https://billing", 300),
    (CLIENT, {"resource": ("https://billing",)}, ("read",), "https://billing", 300),
    (Client("svc", ("read",), ("read",), ("https://orders",), token_lifetime_seconds=60),
     {}, ("read",), "https://orders", 60),
    (Client("svc", ("read",), ("read",), ("https://orders",), token_lifetime_seconds=86400),
     {}, ("read",), "https://orders", 3600),  # never above the maximum
])
def test_a_grant_is_what_the_client_may_have(client: Client, form: dict[str, tuple[str, ...]],
                                             scopes: tuple[str, ...], audience: str,
                                             lifetime: int) -> None:
    grant = grant_for(client, TokenForm(form), default_lifetime=300, max_lifetime=3600)
    assert (grant.scopes, grant.audience, grant.lifetime) == (scopes, audience, lifetime)
    claims = grant.claims("https://issuer.example", now=1_000)
    assert claims["sub"] == claims["client_id"] == "svc"
    assert (claims["aud"], claims["scope"], claims["iat"], claims["nbf"], claims["exp"]) == (
        audience, " ".join(scopes), 1_000, 1_000, 1_000 + lifetime)
    assert len(claims["jti"]) >= 22 and claims["jti"] != grant.claims("x", 0)["jti"]


@pytest.mark.parametrize(("client", "form", "error", "reason"), [
    (CLIENT, {"scope": ("admin",)}, "invalid_scope", "not allowed for this client: admin"),
    (CLIENT, {"scope": ("read  write",)}, "invalid_scope", "malformed scope"),
    (CLIENT, {"scope": ('read"',)}, "invalid_scope", "malformed scope"),
    (Client("svc", ("read",), (), ("https://orders",)), {}, "invalid_scope", "no default scopes"),
    (CLIENT, {"audience": ("https://elsewhere",)}, "invalid_target", "not allowed for this client"),
    (CLIENT, {"resource": ("https://orders", "https://billing")}, "invalid_target", "one resource"),
    (CLIENT, {"resource": ("orders",)}, "invalid_target", "absolute URI"),
    (CLIENT, {"resource": ("https://orders#x",)}, "invalid_target", "without a fragment"),
    (CLIENT, {"audience": ("https://orders",), "resource": ("https://orders",)}, "invalid_request",
     "either audience or resource"),
    (Client("svc", ("read",), ("read",), ("https://orders",), enabled=False), {}, "invalid_grant",
     "client is disabled"),
])
def test_a_grant_beyond_the_client_is_refused(client: Client, form: dict[str, tuple[str, ...]],
                                              error: str, reason: str) -> None:
    with pytest.raises(OAuthError) as raised:
        grant_for(client, TokenForm(form), default_lifetime=300, max_lifetime=3600)
    assert raised.value.error == error and reason in raised.value.description
    assert raised.value.client_id == "svc"  # the audit line names who asked
