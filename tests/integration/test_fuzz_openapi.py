"""schemathesis against the issuer's own OpenAPI document, over real HTTP (uvicorn on
loopback): for every operation, generated requests (valid and not) never get a 5xx, and
every response is one the schema documents, with the documented content type and body.

The schema is built from app.main at import (schemathesis 4.32's lazy pytest fixture
does not work with pytest 9), and a test checks the issuer serves exactly that document.

A registered client and the admin token are sent on some requests, so the generator also
reaches past authentication. Budget: the hypothesis profile of tests/support/fuzzing.py,
capped per operation below.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from tests.support import fuzzing
from tests.support.processes import RunningIssuer

ADMIN_TOKEN = "admin-secret-for-schemathesis-0123456789abcdef"


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> tuple[str, dict[str, str]]:
    running = make_issuer({"SIGNET_ADMIN_TOKEN": ADMIN_TOKEN, "SIGNET_CLIENT_AUTH_CACHE_SECONDS": "300"},
                          clients={"fuzz": ("--scope", "read", "--audience", "api://fuzz")})
    basic = base64.b64encode(f"fuzz:{running.secrets['fuzz']}".encode()).decode()
    return running.base, {"client": f"Basic {basic}", "admin": f"Bearer {ADMIN_TOKEN}"}


OPENAPI = create_app().openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_fuzzed_schema_is_the_served_one(issuer: tuple[str, dict[str, str]]) -> None:
    base, _ = issuer
    assert httpx.get(base + "/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=fuzzing.budget(40))
def test_issuer_api_conforms_to_its_schema(case: schemathesis.Case,
                                          issuer: tuple[str, dict[str, str]]) -> None:
    base, credentials = issuer
    headers = dict(case.headers or {})
    if "authorization" not in {name.lower() for name in headers}:
        if case.path.startswith("/admin/"):
            headers["Authorization"] = credentials["admin"]
        elif case.path == "/token":
            headers["Authorization"] = credentials["client"]
    # Not positive_data_acceptance: whether a well-formed token request is granted depends
    # on the client's registration (its scopes, audiences), which no schema can say.
    case.call_and_validate(base_url=base, headers=headers, excluded_checks=[positive_data_acceptance])
