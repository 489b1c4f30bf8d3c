"""docker-compose.yml and the Dockerfile against the code they run.

`make deploy-check` validates the files' syntax (the Compose specification's JSON schema,
hadolint); these tests check what a schema cannot: that every SIGNET_* variable is one
the code reads, that the values load, and that services, volumes, stages and commands
refer to things that exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import load_settings
from tests.support.deploy_files import ROOT, demo_variables, issuer_variables, signet_names

COMPOSE_PATH = ROOT / "docker-compose.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
CLIENTS_ADD = "signet clients add demo --scope read --audience api://demo --json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_PATH.read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def _stages(dockerfile: str) -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined), by stage name."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in re.sub(r"\\\n\s*", " ", dockerfile).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match[1] or f"stage{len(stages)}", [])
        current.append(line)
    return stages


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


# --- the settings the services are given -------------------------------------------------

def test_every_signet_variable_exists_in_the_settings(services: dict[str, Any]) -> None:
    readers = {"demo": demo_variables()}
    for name, service in services.items():
        known = readers.get(name, issuer_variables())
        unknown = signet_names(service.get("environment", {})) - known
        assert not unknown, f"service {name}: no setting reads {sorted(unknown)}"


def test_the_issuer_settings_load_and_select_managed_kms_keys(
        services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    environment = services["issuer"]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings()
    assert settings.key_backend == "kms"
    assert settings.kms_key_id == "", "managed keys: Signet creates and rotates them"
    assert settings.redis_url, "managed KMS keys need Redis for the ring lock"
    assert settings.kms_endpoint_url == "http://moto:5000"
    assert settings.issuer_url == "http://127.0.0.1:8000"


def test_init_runs_the_same_settings_as_the_issuer(services: dict[str, Any]) -> None:
    assert services["init"]["environment"] == services["issuer"]["environment"]


def test_the_demo_trusts_this_issuer_for_the_demo_clients_audience(services: dict[str, Any]) -> None:
    demo = services["demo"]["environment"]
    issuer = services["issuer"]["environment"]
    assert demo["SIGNET_VERIFIER_ISSUER"] == issuer["SIGNET_ISSUER"]
    assert demo["SIGNET_VERIFIER_JWKS_URL"] == issuer["SIGNET_ISSUER"] + "/.well-known/jwks.json"
    assert f"--audience {demo['SIGNET_VERIFIER_AUDIENCE']} " in _command(services["init"]) + " "
    assert demo["SIGNET_REDIS_URL"] == issuer["SIGNET_REDIS_URL"]


# --- what the services run ---------------------------------------------------------------

def test_init_registers_the_demo_client_and_keeps_its_secret_with_the_registry(
        services: dict[str, Any]) -> None:
    init = services["init"]
    script = _command(init)
    assert CLIENTS_ADD in script
    # the first managed key is created before the issuer starts
    assert script.splitlines()[1] == "signet check"
    clients_dir = Path(init["environment"]["SIGNET_CLIENTS_FILE"]).parent
    assert f"out={clients_dir}/demo-client.json" in script
    assert f"clients:{clients_dir}" in init["volumes"]
    assert f"clients:{clients_dir}:ro" in services["issuer"]["volumes"]
    assert init["depends_on"]["moto"]["condition"] == "service_healthy"
    assert services["issuer"]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_the_demo_is_the_verifier_demo_app_on_a_published_port(services: dict[str, Any]) -> None:
    demo = services["demo"]
    argv = demo["command"]
    assert argv[:2] == ["uvicorn", "app.demo:app"]
    port = argv[argv.index("--port") + 1]
    assert demo["network_mode"] == "service:issuer"
    assert f"127.0.0.1:{port}:{port}" in services["issuer"]["ports"]
    assert f"127.0.0.1:{port}/whoami" in "".join(demo["healthcheck"]["test"])


def test_moto_runs_the_repo_launcher_on_the_endpoint_the_issuer_uses(services: dict[str, Any]) -> None:
    moto_stage = _stages(DOCKERFILE_PATH.read_text())[services["moto"]["build"]["target"]]
    command = next(line for line in moto_stage if line.startswith("CMD"))
    assert '"-m", "tests.support.moto_kms", "--host", "0.0.0.0", "--port", "5000"' in command
    assert services["issuer"]["environment"]["SIGNET_KMS_ENDPOINT_URL"] == "http://moto:5000"
    dev_requirements = (ROOT / "requirements-dev.txt").read_text()
    pin = re.search(r"^(moto\[server\]==\S+)$", dev_requirements, re.MULTILINE)
    assert pin and f"'{pin[1]}'" in " ".join(moto_stage), "compose's moto must be the version tests use"


# --- references a schema cannot check ----------------------------------------------------

def test_references_point_at_things_that_exist(compose: dict[str, Any], services: dict[str, Any]) -> None:
    stages = _stages(DOCKERFILE_PATH.read_text())
    volumes = set(compose.get("volumes", {}))
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        network_mode = service.get("network_mode", "")
        if network_mode.startswith("service:"):
            assert network_mode.removeprefix("service:") in services
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, f"{name}: undeclared volume {source}"
        if "build" in service:
            assert service["build"]["target"] in stages, f"{name}: no Dockerfile stage {service['build']}"


def test_compose_interpolates_nothing() -> None:
    """Shell variables in commands are written $$name: a single $ would be replaced by compose."""
    text = COMPOSE_PATH.read_text()
    assert not re.search(r"(?<!\$)\$(?!\$)", text.replace("$$", "")), "unescaped $ in docker-compose.yml"


# --- the Dockerfile ----------------------------------------------------------------------

def _copy_sources() -> list[str]:
    return [source for stage in _stages(DOCKERFILE_PATH.read_text()).values() for line in stage
            if line.startswith("COPY") and "--from=" not in line for source in shlex.split(line)[1:-1]]


def test_dockerfile_copies_only_files_that_exist() -> None:
    for source in _copy_sources():
        assert (ROOT / source).exists(), f"Dockerfile: COPY {source}: no such file"


def test_build_context_holds_every_copied_file() -> None:
    """.dockerignore is an allow-list: a COPY source missing from it would break the build."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*"
    allowed = [p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")]
    for source in _copy_sources():
        assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


def test_runtime_stage_is_last_non_root_and_checks_healthz() -> None:
    stages = _stages(DOCKERFILE_PATH.read_text())
    name, runtime = list(stages.items())[-1]
    assert name == "runtime"
    user = [line for line in runtime if line.startswith("USER")][-1]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    healthcheck = next(line for line in runtime if line.startswith("HEALTHCHECK"))
    assert "/healthz" in healthcheck and "SIGNET_PORT" in healthcheck
    assert not any("pip install" in line for line in runtime), "nothing is installed in the final image"
    assert next(line for line in runtime if line.startswith("CMD")) == 'CMD ["signet", "serve"]'
