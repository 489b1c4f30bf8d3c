"""What the deployment files may name: the SIGNET_* settings the code really reads.

The issuer's settings are the fields of app.settings.Settings. The demo service
(`app.demo:app`, issue 4) and the client registry setting (issue 3) are built on other
branches; until their code is on this branch, their documented variables are accepted
from the explicit lists below, and the lists stop mattering once the code is here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from app.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]

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
    """What app.demo reads: the verifier's SIGNET_VERIFIER_* variables (through
    VerifierSettings) and any SIGNET_* name its own source spells out."""
    import app.demo
    from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT

    names = set(VERIFIER_ENVIRONMENT.values())
    return names | set(re.findall(r"\bSIGNET_[A-Z0-9_]+\b", Path(app.demo.__file__).read_text()))


def signet_names(environment: Any) -> set[str]:
    """SIGNET_* names of a compose/Kubernetes environment, mapping or list form."""
    if isinstance(environment, dict):
        keys = environment.keys()
    else:
        keys = [item.split("=", 1)[0] for item in environment or ()]
    return {key for key in keys if key.startswith(ENV_PREFIX)}


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
