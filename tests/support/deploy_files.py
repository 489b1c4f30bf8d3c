"""What the deployment files may name: the SIGNET_* settings the code really reads.

The issuer's settings are the fields of app.settings.Settings. The demo service
(`app.demo:app`, issue 4) and the client registry setting (issue 3) are built on other
branches; until their code is on this branch, their documented variables are accepted
from the explicit lists below, and the lists stop mattering once the code is here.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from app.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]

# Issue 4's demo service: "configured by SIGNET_VERIFIER_ISSUER, SIGNET_VERIFIER_AUDIENCE,
# SIGNET_VERIFIER_JWKS_URL (optional), SIGNET_VERIFIER_LEEWAY, SIGNET_REDIS_URL".
DEMO_DOCUMENTED = frozenset({"SIGNET_VERIFIER_ISSUER", "SIGNET_VERIFIER_AUDIENCE",
                             "SIGNET_VERIFIER_JWKS_URL", "SIGNET_VERIFIER_LEEWAY",
                             "SIGNET_REDIS_URL"})


def env_names(settings_class: type[BaseSettings]) -> set[str]:
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings_class.model_fields.items():
        names.add((prefix + name).upper())
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
    return names


def issuer_variables() -> set[str]:
    return env_names(Settings)


def demo_variables() -> set[str]:
    """What app.demo reads when that module exists (its settings classes' variables and any
    SIGNET_* name its source spells out), else the documented list."""
    spec = importlib.util.find_spec("app.demo")
    if spec is None:
        return set(DEMO_DOCUMENTED)
    demo = importlib.import_module("app.demo")
    from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT

    # The demo reads the verifier's SIGNET_VERIFIER_* variables through VerifierSettings.
    names = set(VERIFIER_ENVIRONMENT.values())
    names |= set(re.findall(r"\bSIGNET_[A-Z0-9_]+\b", Path(str(spec.origin)).read_text()))
    for value in vars(demo).values():
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
            names |= env_names(value)
    if not names:
        raise AssertionError("app.demo exists but neither a settings class nor a SIGNET_* name was"
                             " found in it: teach tests/support/deploy_files.py where the demo's"
                             " settings are")
    return names


def signet_names(environment: Any) -> set[str]:
    """SIGNET_* names of a compose/Kubernetes environment, mapping or list form."""
    if isinstance(environment, dict):
        keys = environment.keys()
    else:
        keys = [item.split("=", 1)[0] for item in environment or ()]
    return {key for key in keys if key.startswith(ENV_PREFIX)}


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
