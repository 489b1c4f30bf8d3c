"""Request ids over HTTP: the issuer and the demo service keep a safe incoming X-Request-ID,
replace an unsafe one, generate one when none came, return it, and put it in every log line
written while serving that request. Real uvicorn processes on loopback, no mocks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.processes import RunningIssuer, Service, start_demo
from tests.support.tokens import audit_lines, post_token

CC = {"grant_type": "client_credentials"}
GENERATED = re.compile(r"[0-9a-f]{32}")


def json_lines(service: Service, logger: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in service.output().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == logger]


@pytest.fixture(scope="module")
def issuer(make_issuer: Callable[..., RunningIssuer]) -> tuple[Service, str, str]:
    running = make_issuer(clients={"svc": ("--scope", "read", "--audience", "api://demo")})
    return running.service, running.base, running.secrets["svc"]


def test_a_safe_incoming_id_is_echoed_and_logged(issuer: tuple[Service, str, str]) -> None:
    service, base, _ = issuer
    response = post_token(base, CC, auth=("svc", "wrong"), headers={"X-Request-ID": "edge-7f3a:42"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "edge-7f3a:42"
    refused = [line for line in audit_lines(service, "token_refused") if line["reason"] == "invalid_client"]
    assert [line["request_id"] for line in refused] == ["edge-7f3a:42"]


@pytest.mark.parametrize("incoming", ["x" * 129, "bad id", "ünïcode", "a\tb"])
def test_an_unsafe_incoming_id_is_replaced(issuer: tuple[Service, str, str], incoming: str) -> None:
    _, base, _ = issuer
    response = httpx.get(base + "/healthz", headers={"X-Request-ID": incoming.encode("utf-8")})
    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_each_request_without_an_id_gets_a_fresh_one(issuer: tuple[Service, str, str]) -> None:
    service, base, secret = issuer
    first = post_token(base, CC, auth=("svc", secret))
    second = post_token(base, CC, auth=("svc", secret))
    assert first.status_code == second.status_code == 200
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(GENERATED.fullmatch(i) for i in ids) and ids[0] != ids[1]
    issued = {line["request_id"] for line in audit_lines(service, "token_issued")}
    assert set(ids) <= issued
    # Lines written outside any request (start-up) carry none.
    ready = [line for line in json_lines(service, "signet.issuer") if line["message"] == "issuer ready"]
    assert ready and "request_id" not in ready[0]


def test_the_demo_service_logs_refusals_with_the_request_id(issuer: tuple[Service, str, str]) -> None:
    _, base, _ = issuer
    demo, demo_base = start_demo({"SIGNET_VERIFIER_ISSUER": base, "SIGNET_VERIFIER_AUDIENCE": "api://demo",
                                  "SIGNET_LOG_LEVEL": "info"})
    try:
        response = httpx.get(demo_base + "/whoami", headers={"Authorization": "Bearer not.a.token",
                                                             "X-Request-ID": "trace-123"})
        assert response.status_code == 401
        assert response.headers["x-request-id"] == "trace-123"
        refused = [line for line in json_lines(demo, "signet.verifier") if line["message"] == "token refused"]
        assert [(line["code"], line["request_id"]) for line in refused] == [("malformed", "trace-123")]
    finally:
        demo.stop()


def test_log_level_comes_from_configuration(issuer: tuple[Service, str, str]) -> None:
    """At SIGNET_LOG_LEVEL=warning the demo writes no info line, not even a refusal."""
    _, base, _ = issuer
    demo, demo_base = start_demo({"SIGNET_VERIFIER_ISSUER": base, "SIGNET_VERIFIER_AUDIENCE": "api://demo",
                                  "SIGNET_LOG_LEVEL": "warning"})
    try:
        assert httpx.get(demo_base + "/whoami", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
        lines = json_lines(demo, "signet.verifier")
        assert not [line for line in lines if line["level"] == "info"]
    finally:
        demo.stop()
