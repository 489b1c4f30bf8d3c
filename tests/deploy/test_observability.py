"""The alert rules (deploy/prometheus) and the Grafana dashboard (deploy/grafana) name only
metrics Signet exports: the names come from a real issuer's /metrics (uvicorn on loopback)
and a real VerifierCollector's output, the expressions are parsed with promql-parser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from signet.verifier import Verifier
from signet.verifier.metrics import VerifierCollector
from tests.support.processes import start_issuer

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "signet-alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "signet-dashboard.json"
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("", "_count", "_sum"), "untyped": ("",)}
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def sample_names(exposition: str) -> set[str]:
    """Every series name an exposition defines, samples or not (a labelled counter that has
    counted nothing yet still has its `# TYPE` line)."""
    return {name + suffix for name, kind in TYPE_LINE.findall(exposition) for suffix in SUFFIXES[kind]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    tmp = tmp_path_factory.mktemp("names")
    issuer, base = start_issuer({"SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"),
                                 "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys")})
    try:
        issuer_text = httpx.get(base + "/metrics", timeout=10).text
    finally:
        issuer.stop()
    verifier = Verifier("https://issuer.example", "api://x")
    try:
        registry = CollectorRegistry()
        registry.register(VerifierCollector(verifier))
        verifier_text = generate_latest(registry).decode()
    finally:
        verifier.close()
    issuer_names, verifier_names = sample_names(issuer_text), sample_names(verifier_text)
    assert "signet_token_request_duration_seconds_bucket" in issuer_names
    assert "signet_verifier_verification_duration_seconds_bucket" in verifier_names
    return issuer_names | verifier_names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects; Grafana's variables become values."""
    promql = expr.replace("$__rate_interval", "5m")
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(promql), visit)
    return names


def rule_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":  # label_values(metric, label): Grafana's, not PromQL
            match = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["query"]["query"])
            assert match, variable
            yield f"variable {variable['name']}", match.group(1)


EXPRESSIONS = [*rule_expressions(), *dashboard_expressions()]


def test_the_checker_sees_a_misspelt_name(exported: set[str]) -> None:
    """What the test below relies on: a wrong name is found, through functions and operators."""
    names = metric_names('sum(rate(signet_tokens_issued[$__rate_interval])) / on() group_left'
                         ' max(signet_build_info{job=~"$issuer_job"})')
    assert names == {"signet_tokens_issued", "signet_build_info"}
    assert names - exported == {"signet_tokens_issued"}  # the counter is ..._total


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_every_expression_names_only_exported_metrics(exported: set[str], where: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    assert names <= exported, f"{where}: not exported by Signet: {sorted(names - exported)}"


def test_the_alerts_cover_what_operators_are_paged_for() -> None:
    alerts = {name for name, _ in rule_expressions()}
    assert alerts >= {"SignetVerifierKeysUnavailable", "SignetVerifierKeysStale", "SignetKmsThrottling",
                      "SignetKmsErrors", "SignetTokenRefusalSpike", "SignetRotationOverdue"}
