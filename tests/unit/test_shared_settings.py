"""Every setting name that both the issuer and a verifier read parses the same on both sides:
the same values accepted with the same meaning, the same values refused with the same message
("VARIABLE: ..."). One table fed to both: the issuer's settings loader, and the verifier's
(VerifierSettings.from_env; for SIGNET_LOG_LEVEL and SIGNET_LOG_FORMAT, the demo service's
readers).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

import pytest

from app.demo import demo_log_format, demo_log_level
from app.settings import ConfigurationError, Settings, load_settings
from signet.verifier.errors import VerifierConfigError
from signet.verifier.settings import ENVIRONMENT, VerifierSettings

VERIFIER_BASE = {"SIGNET_VERIFIER_ISSUER": "https://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "api://x"}
DEMO_READS = {"SIGNET_LOG_LEVEL", "SIGNET_LOG_FORMAT"}  # besides VerifierSettings' variables

# name -> values; each is fed to both sides.
TABLE: dict[str, list[str]] = {
    "SIGNET_VERIFIER_LEEWAY": [
        "30", "30s", " 30s ", "30 s", "5m", "PT30S", "30.5", "0", "300", "", "-1", "301", "600",
        "abc", "1e2", "30S", "1H", "nan", "inf", "true", "00:00:30", "P", "PT"],
    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": [
        "3600", "1h", "60m", "P1D", "PT1H", "7d", "60", "", "0", "0.05", "8d", "-5", "abc",
        "1 day", "01:00:00"],
    "SIGNET_REDIS_URL": [
        "", "redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1", "unix:///run/redis.sock",
        "redis://:pw@cache.example:6379/0", "http://:hunter2@cache.example", " redis://h/0", "redis://h:99999/0"],
    "SIGNET_LOG_LEVEL": ["info", "INFO", "Debug", "warning", "error", "verbose", "", " info", "trace"],
    "SIGNET_LOG_FORMAT": ["json", "JSON", "text", "Text", "", "yaml", " json", "logfmt"],
}


def _issuer(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, object]:
    monkeypatch.setenv(name, value)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        return "refused", str(exc)
    parsed = getattr(settings, name.removeprefix("SIGNET_").lower())
    return "accepted", parsed.total_seconds() if isinstance(parsed, timedelta) else parsed


def _verifier(name: str, value: str) -> tuple[str, object]:
    env: Mapping[str, str] = {**VERIFIER_BASE, name: value}
    try:
        if name == "SIGNET_LOG_LEVEL":
            return "accepted", demo_log_level(env)
        if name == "SIGNET_LOG_FORMAT":
            return "accepted", demo_log_format(env)
        settings = VerifierSettings.from_env(env)
    except VerifierConfigError as exc:
        return "refused", str(exc)
    option = {variable: option for option, variable in ENVIRONMENT.items()}[name]
    return "accepted", getattr(settings, option)


def test_the_table_names_every_setting_both_sides_read() -> None:
    issuer = {"SIGNET_" + name.upper() for name in Settings.model_fields}
    verifier = set(ENVIRONMENT.values()) | DEMO_READS
    assert issuer & verifier == set(TABLE)


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in TABLE.items() for v in values])
def test_both_sides_read_a_value_alike(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("SIGNET_")]:
        monkeypatch.delenv(variable)
    issuer, verifier = _issuer(name, value, monkeypatch), _verifier(name, value)
    assert issuer == verifier
    if issuer[0] == "refused":
        message = str(issuer[1])
        assert message.startswith(f"{name}: ")
        if name == "SIGNET_REDIS_URL":  # may hold a password: never repeated
            assert "hunter2" not in message
        else:
            assert repr(value) in message


def test_the_table_has_both_outcomes_for_each_name() -> None:
    for name, values in TABLE.items():
        outcomes = {_verifier(name, value)[0] for value in values}
        assert outcomes == {"accepted", "refused"}, name
