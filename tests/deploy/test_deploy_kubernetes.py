"""deploy/kubernetes/: each overlay, rendered with `kubectl kustomize`, against the code, the
CloudFormation template and the overlay's own `site` values.

`make deploy-check` validates the rendered overlays against Kubernetes' schemas
(kubernetes-validate --strict) and checkov's policies; these tests check that the settings
exist and load, that the probes hit real routes, that the pieces agree with each other and
with deploy/aws/signet-issuer.yaml (the IRSA trust names this service account; the IAM
policy names this ring and deletion window), and that every per-site value set once in an
overlay's kustomization.yaml lands exactly where it must, and nowhere else.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cfnlint.decode import cfn_yaml

from app.demo import create_demo_app
from app.main import create_app
from app.settings import load_settings
from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT
from tests.support.deploy_files import ROOT, issuer_variables, load_yaml_documents, signet_names

KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
Resources = dict[str, dict[str, Any]]


def render(overlay: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize OVERLAY`: what `kubectl apply -k` would send."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is missing (with kustomize v5: kubectl 1.27 or later)")
    result = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_name(documents: list[dict[str, Any]]) -> Resources:
    """kind/name -> resource; the examples' Secrets stand in for those made by hand."""
    found: Resources = {}
    for document in documents:
        name = f"{document['kind']}/{document['metadata']['name']}"
        assert name not in found, f"{name} defined twice"
        found[name] = document
    return found


def site_values(overlay: Path) -> dict[str, str]:
    """The `site` block of an overlay's kustomization.yaml: its per-site values."""
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    (site,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "site"]
    return dict(item.split("=", 1) for item in site["literals"])


def _images(kustomization: Path) -> dict[str, Any]:
    (image,) = yaml.safe_load(kustomization.read_text())["images"]
    return image  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def resources(overlay: str) -> Resources:
    """The rendered overlay, plus the Secrets an operator creates by hand (examples/)."""
    found = by_name(render(KUBERNETES / "overlays" / overlay))
    for document in load_yaml_documents(KUBERNETES / "examples" / "secrets.yaml"):
        if not any(n.startswith(f"Secret/{document['metadata']['name']}") for n in found):
            found[f"Secret/{document['metadata']['name']}"] = document
    return found


def _one(resources: Resources, kind: str) -> dict[str, Any]:
    matches = [r for name, r in resources.items() if name.startswith(kind + "/")]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="module")
def pod(resources: Resources) -> dict[str, Any]:
    result: dict[str, Any] = _one(resources, "Deployment")["spec"]["template"]["spec"]
    return result


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (result,) = pod["containers"]
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def template() -> Any:
    return cfn_yaml.loads((ROOT / "deploy" / "aws" / "signet-issuer.yaml").read_text())


@pytest.fixture(scope="module")
def production() -> Resources:
    return by_name(render(KUBERNETES / "overlays" / "production"))


# --- settings ----------------------------------------------------------------------------

def test_configmap_and_env_name_only_real_settings(resources: Resources, container: dict[str, Any]) -> None:
    configmap = _one(resources, "ConfigMap")["data"]
    names = signet_names(configmap) | signet_names({e["name"]: None for e in container["env"]})
    assert not names - issuer_variables(), f"no setting reads {sorted(names - issuer_variables())}"
    assert set(configmap) == signet_names(configmap), "the ConfigMap holds SIGNET_* settings only"


def test_configmap_settings_load(resources: Resources, overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _one(resources, "ConfigMap")["data"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SIGNET_REDIS_URL", "rediss://redis.example.internal:6379/0")  # from the Secret
    settings = load_settings()
    assert settings.issuer_url.startswith("https://")
    if overlay == "production":  # managed KMS keys
        assert settings.key_backend == "kms" and settings.kms_key_id == ""
    else:
        assert settings.key_backend == "local"


def test_redis_url_comes_from_a_secret(container: dict[str, Any], resources: Resources) -> None:
    redis = next(e for e in container["env"] if e["name"] == "SIGNET_REDIS_URL")
    ref = redis["valueFrom"]["secretKeyRef"]
    (secret,) = [r for r in resources.values()
                 if r["kind"] == "Secret" and r["metadata"]["name"] == ref["name"]]
    assert ref["key"] in {**secret.get("stringData", {}), **secret.get("data", {})}
    assert "SIGNET_REDIS_URL" not in _one(resources, "ConfigMap")["data"]


# --- the pod -----------------------------------------------------------------------------

def test_a_read_only_preflight_runs_first_with_the_issuers_settings(
        pod: dict[str, Any], container: dict[str, Any]) -> None:
    """`signet check` as the init container: same image, settings, Redis secret and clients
    file (and key directory) as the issuer, so a broken configuration stops in Init."""
    (init,) = pod["initContainers"]
    assert init["args"] == ["signet", "check"]
    for same in ("image", "envFrom"):
        assert init[same] == container[same], same
    # FORWARDED_ALLOW_IPS is uvicorn's, for `serve` behind an ingress only
    assert init["env"] == [e for e in container["env"] if e["name"] != "FORWARDED_ALLOW_IPS"]
    assert {m["mountPath"] for m in init["volumeMounts"]} == {
        m["mountPath"] for m in container["volumeMounts"]}
    assert init["securityContext"] == container["securityContext"]


def test_probes_hit_the_issuers_health_routes(container: dict[str, Any], resources: Resources) -> None:
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
                                                       resources: Resources) -> None:
    annotations = _one(resources, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in create_app().openapi()["paths"]
    (port,) = container["ports"]
    assert annotations["prometheus.io/port"] == str(port["containerPort"])


def test_pod_is_locked_down(pod: dict[str, Any], container: dict[str, Any], resources: Resources,
                            overlay: str) -> None:
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
    assert mounts["tmp"]["mountPath"] == "/tmp"  # noqa: S108
    if overlay == "production":
        assert writable == {"tmp"}  # keys live in KMS, never on disk
    else:
        assert writable == {"tmp", "keys"}
        key_dir = _one(resources, "ConfigMap")["data"]["SIGNET_LOCAL_KEY_DIR"]
        assert mounts["keys"]["mountPath"] == key_dir
    assert all(m.get("readOnly") for name, m in mounts.items() if name not in writable)


def test_everything_selects_the_pods(resources: Resources, overlay: str) -> None:
    deployment = _one(resources, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [deployment["spec"]["selector"]["matchLabels"],
                 _one(resources, "Service")["spec"]["selector"],
                 _one(resources, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]]
    if overlay == "production":
        selectors.append(_one(resources, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    for selector in selectors:
        assert selector.items() <= labels.items()
    namespaces = {r["metadata"].get("namespace") for r in resources.values() if r["kind"] != "Namespace"}
    assert namespaces == {_one(resources, "Namespace")["metadata"]["name"]}


def test_production_runs_two_replicas_at_least(production: Resources) -> None:
    deployment = _one(production, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    hpa = _one(production, "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] >= 2
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    assert _one(production, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_production_service_monitor_and_ingress_reach_the_service(production: Resources) -> None:
    service = _one(production, "Service")
    ports = {p["name"] for p in service["spec"]["ports"]}
    monitor = _one(production, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in ports
    assert endpoint["path"] in create_app().openapi()["paths"]
    (rule,) = _one(production, "Ingress")["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"] and backend["port"]["name"] in ports


# --- per-site values: set once in the overlay ------------------------------------------

def _egress(resources: Resources, port: int) -> list[str]:
    """The CIDRs the issuer may reach on `port`."""
    rules = _one(resources, "NetworkPolicy")["spec"]["egress"]
    return [peer["ipBlock"]["cidr"] for rule in rules if any(p["port"] == port for p in rule["ports"])
            for peer in rule["to"] if "ipBlock" in peer]


def test_every_site_value_lands_where_expected(resources: Resources, overlay: str) -> None:
    check_site(resources, overlay, KUBERNETES / "overlays" / overlay)


def check_site(resources: Resources, overlay: str, directory: Path) -> None:
    """Each value of the overlay's `site` block and `images`, in every field that needs it."""
    site = site_values(directory)
    data = _one(resources, "ConfigMap")["data"]
    pod = _one(resources, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert data["SIGNET_ISSUER"] == site["ISSUER_URL"]
    assert _egress(resources, 6379) == [site["REDIS_CIDR"]]
    image = _images(directory / "kustomization.yaml")
    expected = f"{image['newName']}:{image['newTag']}"
    assert {c["image"] for c in [*pod["containers"], *pod["initContainers"]]} == {expected}
    if overlay == "production":
        account = _one(resources, "ServiceAccount")["metadata"]["annotations"]
        assert account["eks.amazonaws.com/role-arn"] == site["IRSA_ROLE_ARN"]
        assert data["SIGNET_KMS_ISSUER_PRINCIPAL"] == site["IRSA_ROLE_ARN"]
        assert data["SIGNET_KMS_REGION"] == site["AWS_REGION"]
        assert data["SIGNET_KMS_RING"] == site["KMS_RING"]
        assert _egress(resources, 443) == [site["HTTPS_EGRESS_CIDR"]]
        ingress = _one(resources, "Ingress")["spec"]
        host = urlsplit(site["ISSUER_URL"]).hostname
        assert ingress["rules"][0]["host"] == host and ingress["tls"] == [
            {"hosts": [host], "secretName": site["TLS_SECRET"]}]
        assert ingress["ingressClassName"] == site["INGRESS_CLASS"]
        assert container["args"] == ["signet", "serve", "--proxy-headers"]
        forwarded = next(e for e in container["env"] if e["name"] == "FORWARDED_ALLOW_IPS")
        assert forwarded["value"] == site["INGRESS_CONTROLLER_CIDR"]
    else:
        assert _egress(resources, 443) == [], "local keys: no HTTPS egress at all"
        assert container["args"] == ["signet", "serve"]  # no proxy in front
        assert "ServiceAccount/signet-issuer" in resources
        assert "annotations" not in resources["ServiceAccount/signet-issuer"]["metadata"]
    for cidr in _egress(resources, 6379) + _egress(resources, 443):
        assert ipaddress.ip_network(cidr).prefixlen > 0, "no 0.0.0.0/0 unless the overlay says so"


def test_nothing_is_left_unset_and_the_site_block_is_not_applied(overlay: str) -> None:
    rendered = yaml.safe_dump_all(render(KUBERNETES / "overlays" / overlay))
    assert "SET-" not in rendered, "a placeholder no site value replaced"
    assert "config.kubernetes.io/local-config" not in rendered


def test_a_copied_overlay_changes_its_site_in_one_file(overlay: str, tmp_path: Path) -> None:
    """The operator's workflow: copy an overlay, change the values in its kustomization.yaml,
    render. Exactly the site values (and the Ingress host and image they make) change in the
    output, each everywhere it appears, and nothing else does."""
    tree = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, tree)
    kustomization = tree / "overlays" / overlay / "kustomization.yaml"
    old = site_values(KUBERNETES / "overlays" / overlay)
    new = {
        "ISSUER_URL": "https://auth.acme.test", "REDIS_CIDR": "172.20.7.0/28",
        "AWS_REGION": "ap-southeast-2", "IRSA_ROLE_ARN": "arn:aws:iam::999988887777:role/acme-signet",
        "KMS_RING": "acme-ring", "HTTPS_EGRESS_CIDR": "172.20.9.0/27", "INGRESS_CLASS": "acme-alb",
        "TLS_SECRET": "acme-tls", "INGRESS_CONTROLLER_CIDR": "172.20.11.0/26"}
    assert set(old) <= set(new), f"a site value this test does not change: {set(old) - set(new)}"
    text = kustomization.read_text()
    for key, value in old.items():
        assert text.count(f"- {key}={value}\n") == 1
        text = text.replace(f"- {key}={value}\n", f"- {key}={new[key]}\n")
    image = _images(kustomization)
    text = text.replace(f"newName: {image['newName']}", "newName: registry.acme.test/signet")
    kustomization.write_text(text)

    before = Counter(_scalars(render(KUBERNETES / "overlays" / overlay)))
    copied = render(kustomization.parent)
    check_site(by_name(copied), overlay, kustomization.parent)
    after = Counter(_scalars(copied))
    image_of = "{}:{}".format
    changed = {image_of(image["newName"], image["newTag"]):
               image_of("registry.acme.test/signet", image["newTag"])}
    changed |= {old[key]: new[key] for key in old}
    if overlay == "production":  # the Ingress host, from ISSUER_URL
        changed[urlsplit(old["ISSUER_URL"]).hostname or ""] = "auth.acme.test"
    assert set(_unhashed(before - after)) == set(changed), "what the site block changed"
    assert set(_unhashed(after - before)) == set(changed.values()), "what the site block changed"



def test_a_site_value_left_out_stops_the_render(overlay: str, tmp_path: Path) -> None:
    """No silent default: without a `site` line, kubectl kustomize fails and names it."""
    for key, value in site_values(KUBERNETES / "overlays" / overlay).items():
        tree = tmp_path / key / "kubernetes"
        shutil.copytree(KUBERNETES, tree)
        kustomization = tree / "overlays" / overlay / "kustomization.yaml"
        line = rf"(?m)^ *- {re.escape(key)}={re.escape(value)}\n"
        kustomization.write_text(re.sub(line, "", kustomization.read_text(), count=1))
        result = subprocess.run(["kubectl", "kustomize", str(kustomization.parent)], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode != 0, f"rendered without {key}"
        assert f"data.{key}" in result.stderr, result.stderr

def _unhashed(values: Counter[str]) -> set[str]:
    """Leave out references to generated objects, whose hash suffix follows their content."""
    return {v for v in values if not re.fullmatch(r"signet-issuer-[a-z0-9]{10}", v)}


def _scalars(node: Any) -> list[str]:
    """Every string value of the rendered resources but their names, labels and selectors."""
    if isinstance(node, list):
        return [s for item in node for s in _scalars(item)]
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key == "metadata":
                found += _scalars(value.get("annotations", {}))
            elif key not in ("labels", "matchLabels", "selector"):
                found += _scalars(value)
        return found
    return [node] if isinstance(node, str) else []


# --- agreement with the CloudFormation template --------------------------------------------

def test_service_account_is_the_one_the_irsa_role_trusts(production: Resources, template: Any) -> None:
    account = _one(production, "ServiceAccount")
    pod = _one(production, "Deployment")["spec"]["template"]["spec"]
    parameters = template["Parameters"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["metadata"]["name"] == parameters["ServiceAccountName"]["Default"]
    assert account["metadata"]["namespace"] == parameters["ServiceAccountNamespace"]["Default"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_the_keys_policy_names_the_irsa_role_as_the_issuer(production: Resources) -> None:
    """Managed keys let only SIGNET_KMS_ISSUER_PRINCIPAL sign: it must be the pods' own role."""
    data = _one(production, "ConfigMap")["data"]
    role = _one(production, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert data["SIGNET_KMS_ISSUER_PRINCIPAL"] == role


def test_ring_and_deletion_window_fit_the_iam_policy(production: Resources, template: Any) -> None:
    data = _one(production, "ConfigMap")["data"]
    parameters = template["Parameters"]
    assert data["SIGNET_KMS_RING"] == parameters["RingName"]["Default"]
    # the policy refuses ScheduleKeyDeletion with a shorter window than DeletionWindowDays
    assert int(data["SIGNET_KMS_DELETION_WINDOW_DAYS"]) >= int(parameters["DeletionWindowDays"]["Default"])


# --- the verifier-side example -------------------------------------------------------------

def test_the_verifier_example_names_real_settings_and_probes_its_readiness() -> None:
    example = by_name(load_yaml_documents(KUBERNETES / "examples" / "verifier.yaml"))
    deployment = _one(example, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _one(example, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in container["env"]}
    assert names <= set(VERIFIER_ENVIRONMENT.values()), names - set(VERIFIER_ENVIRONMENT.values())
    assert {"SIGNET_VERIFIER_ISSUER", "SIGNET_VERIFIER_AUDIENCE", "SIGNET_REDIS_URL",
            "SIGNET_VERIFIER_REDIS_PREFIX", "SIGNET_CACHE_INTEGRITY_KEY"} <= names
    secrets = {e["name"] for e in container["env"] if "valueFrom" in e}
    assert secrets == {"SIGNET_REDIS_URL", "SIGNET_CACHE_INTEGRITY_KEY"}
    issuer = next(e["value"] for e in container["env"] if e["name"] == "SIGNET_VERIFIER_ISSUER")
    assert issuer == site_values(KUBERNETES / "overlays" / "production")["ISSUER_URL"]
    routes = create_demo_app().openapi()["paths"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert container["livenessProbe"]["httpGet"]["path"] in routes
    assert container["readinessProbe"]["httpGet"]["port"] == container["ports"][0]["name"]


def test_workload_example_projects_a_token_for_signet() -> None:
    """The secretless client example: its projected token's audience is the issuer URL the
    production overlay announces, it lives no longer than Signet accepts, and the pod runs as a
    service account of its own (Signet never matches `default` by a pattern)."""
    workload_example = KUBERNETES / "examples" / "workload-client.yaml"  # its own namespace
    documents = {d["kind"]: d for d in load_yaml_documents(workload_example)}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == documents["ServiceAccount"]["metadata"]["name"] != "default"
    projected = next(v["projected"]["sources"][0]["serviceAccountToken"] for v in pod["volumes"]
                     if "projected" in v)
    issuer = site_values(KUBERNETES / "overlays" / "production")["ISSUER_URL"]
    assert projected["audience"] == issuer
    assert projected["expirationSeconds"] <= load_settings().federation_max_assertion_lifetime_seconds
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["SIGNET_TOKEN_URL"] == issuer + "/token"
