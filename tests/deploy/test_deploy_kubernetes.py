"""deploy/kubernetes/ against the code and the CloudFormation template.

`make deploy-check` validates the manifests against Kubernetes' schemas
(kubernetes-validate --strict) and checkov's policies; these tests check that the
settings exist and load, that the probes hit real routes, and that the pieces agree with
each other and with deploy/aws/signet-issuer.yaml (the IRSA trust names this service
account; the IAM policy names this ring and deletion window).
"""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from app.main import create_app
from app.settings import load_settings
from tests.support.deploy_files import ROOT, issuer_variables, load_yaml_documents, signet_names

MANIFESTS = ROOT / "deploy" / "kubernetes"
# A workload calling Signet, not part of Signet's own deployment (its own namespace).
WORKLOAD_EXAMPLE = MANIFESTS / "examples" / "workload-client.yaml"


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    """kind -> the resource (one of each kind in deploy/kubernetes/, examples included,
    except the workload example)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted([*MANIFESTS.glob("*.yaml"), *MANIFESTS.glob("examples/*.yaml")]):
        if path == WORKLOAD_EXAMPLE:
            continue
        for document in load_yaml_documents(path):
            name = f"{document['kind']}/{document['metadata']['name']}"
            assert name not in found, f"{name} defined twice"
            found[name] = document
    return found


def _one(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [r for name, r in resources.items() if name.startswith(kind + "/")]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="module")
def container(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = _one(resources, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


@pytest.fixture(scope="module")
def template() -> Any:
    return cfn_yaml.loads((ROOT / "deploy" / "aws" / "signet-issuer.yaml").read_text())


# --- settings ----------------------------------------------------------------------------

def test_configmap_and_env_name_only_real_settings(resources: dict[str, dict[str, Any]],
                                                    container: dict[str, Any]) -> None:
    configmap = _one(resources, "ConfigMap")["data"]
    names = signet_names(configmap) | signet_names({e["name"]: None for e in container["env"]})
    assert not names - issuer_variables(), f"no setting reads {sorted(names - issuer_variables())}"
    assert set(configmap) == signet_names(configmap), "the ConfigMap holds SIGNET_* settings only"


def test_configmap_settings_load_with_managed_kms_keys(resources: dict[str, dict[str, Any]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _one(resources, "ConfigMap")["data"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SIGNET_REDIS_URL", "rediss://redis.example.internal:6379/0")  # from the Secret
    settings = load_settings()
    assert settings.key_backend == "kms" and settings.kms_key_id == ""
    assert settings.issuer_url.startswith("https://")


def test_redis_url_comes_from_a_secret(container: dict[str, Any],
                                       resources: dict[str, dict[str, Any]]) -> None:
    redis = next(e for e in container["env"] if e["name"] == "SIGNET_REDIS_URL")
    ref = redis["valueFrom"]["secretKeyRef"]
    secret = resources[f"Secret/{ref['name']}"]
    assert ref["key"] in secret["stringData"]
    assert "SIGNET_REDIS_URL" not in _one(resources, "ConfigMap")["data"]


# --- the pod -----------------------------------------------------------------------------

def test_probes_hit_the_issuers_health_routes(container: dict[str, Any],
                                              resources: dict[str, dict[str, Any]]) -> None:
    routes = create_app().openapi()["paths"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes
        assert container[probe]["httpGet"]["port"] == "http"
    (port,) = container["ports"]
    assert str(port["containerPort"]) == _one(resources, "ConfigMap")["data"]["SIGNET_PORT"]


def test_scrape_annotations_point_at_the_metrics_route(container: dict[str, Any],
                                                       resources: dict[str, dict[str, Any]]) -> None:
    annotations = _one(resources, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in create_app().openapi()["paths"]
    (port,) = container["ports"]
    assert annotations["prometheus.io/port"] == str(port["containerPort"])


def test_pod_is_locked_down(resources: dict[str, dict[str, Any]], container: dict[str, Any]) -> None:
    pod = _one(resources, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    resources_ = container["resources"]
    assert set(resources_["requests"]) == set(resources_["limits"]) == {"cpu", "memory"}
    writable = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert writable == {"tmp"} and mounts["tmp"]["mountPath"] == "/tmp"  # noqa: S108
    assert all(m.get("readOnly") for name, m in mounts.items() if name not in writable)


def test_two_replicas_at_least_and_everything_selects_the_pods(resources: dict[str, dict[str, Any]]) -> None:
    deployment = _one(resources, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] >= 2
    hpa = _one(resources, "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] >= 2
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    selectors = [deployment["spec"]["selector"]["matchLabels"],
                 _one(resources, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                 _one(resources, "Service")["spec"]["selector"],
                 _one(resources, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]]
    for selector in selectors:
        assert selector.items() <= labels.items()
    namespaces = {r["metadata"].get("namespace") for r in resources.values() if r["kind"] != "Namespace"}
    assert namespaces == {_one(resources, "Namespace")["metadata"]["name"]}


# --- agreement with the CloudFormation template --------------------------------------------

def test_service_account_is_the_one_the_irsa_role_trusts(resources: dict[str, dict[str, Any]],
                                                          template: Any) -> None:
    account = _one(resources, "ServiceAccount")
    pod = _one(resources, "Deployment")["spec"]["template"]["spec"]
    parameters = template["Parameters"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["metadata"]["name"] == parameters["ServiceAccountName"]["Default"]
    assert account["metadata"]["namespace"] == parameters["ServiceAccountNamespace"]["Default"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_the_keys_policy_names_the_irsa_role_as_the_issuer(resources: dict[str, dict[str, Any]]) -> None:
    """Managed keys let only SIGNET_KMS_ISSUER_PRINCIPAL sign: it must be the pods' own role."""
    data = _one(resources, "ConfigMap")["data"]
    role = _one(resources, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert data["SIGNET_KMS_ISSUER_PRINCIPAL"] == role


def test_ring_and_deletion_window_fit_the_iam_policy(resources: dict[str, dict[str, Any]],
                                                     template: Any) -> None:
    data = _one(resources, "ConfigMap")["data"]
    parameters = template["Parameters"]
    assert data["SIGNET_KMS_RING"] == parameters["RingName"]["Default"]
    # the policy refuses ScheduleKeyDeletion with a shorter window than DeletionWindowDays
    assert int(data["SIGNET_KMS_DELETION_WINDOW_DAYS"]) >= int(parameters["DeletionWindowDays"]["Default"])


def test_workload_example_projects_a_token_for_signet(resources: dict[str, dict[str, Any]]) -> None:
    """The secretless client example: its projected token's audience is the issuer URL the
    ConfigMap announces, it lives no longer than Signet accepts, and the pod runs as a
    service account of its own (Signet never matches `default` by a pattern)."""
    documents = {d["kind"]: d for d in load_yaml_documents(WORKLOAD_EXAMPLE)}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == documents["ServiceAccount"]["metadata"]["name"] != "default"
    projected = next(v["projected"]["sources"][0]["serviceAccountToken"] for v in pod["volumes"]
                     if "projected" in v)
    issuer = _one(resources, "ConfigMap")["data"]["SIGNET_ISSUER"]
    assert projected["audience"] == issuer
    assert projected["expirationSeconds"] <= load_settings().federation_max_assertion_lifetime_seconds
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["SIGNET_TOKEN_URL"] == issuer + "/token"
