"""Settings that both the issuer and the verifier read take one value syntax: a ConfigMap
value such as `SIGNET_VERIFIER_LEEWAY=30s` means the same to both."""

from __future__ import annotations

import pytest

from app.settings import ConfigurationError, load_settings
from signet.durations import duration_seconds
from signet.verifier import VerifierConfigError, VerifierSettings

BASE = {"SIGNET_VERIFIER_ISSUER": "https://issuer.example", "SIGNET_VERIFIER_AUDIENCE": "a",
        "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "1"}
SHARED = {"SIGNET_VERIFIER_LEEWAY": ("leeway", "verifier_leeway"),
          "SIGNET_VERIFIER_MAX_CACHE_SECONDS": ("max_cache_seconds", "verifier_max_cache_seconds")}


@pytest.mark.parametrize("variable", list(SHARED))
@pytest.mark.parametrize(("value", "seconds"), [
    ("30", 30), ("30s", 30), ("2m", 120), ("1h", 3600), ("PT1M", 60), ("PT1H30M", 5400),
    (" 45s ", 45), ("0.5m", 30)])
def test_issuer_and_verifier_read_a_shared_setting_alike(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                         value: str, seconds: float) -> None:
    verifier_name, issuer_name = SHARED[variable]
    monkeypatch.setenv(variable, value)
    if variable == "SIGNET_VERIFIER_LEEWAY" and seconds > 300:  # the verifier's bound
        with pytest.raises(VerifierConfigError, match=f"{variable}: must be from"):
            VerifierSettings.from_env({**BASE, variable: value})
    else:
        assert getattr(VerifierSettings.from_env({**BASE, variable: value}), verifier_name) == seconds
    try:
        assert getattr(load_settings(), issuer_name).total_seconds() == seconds
    except ConfigurationError as exc:  # the issuer's own bounds, never the syntax
        assert "must be a duration" not in str(exc)


@pytest.mark.parametrize("value", ["soon", "30 seconds", "1w", "P", "PT", "", "nan", "1e400"])
def test_what_is_not_a_duration_is_refused_by_both(value: str) -> None:
    if value.strip():
        assert duration_seconds(value) is None
        with pytest.raises(VerifierConfigError, match="SIGNET_VERIFIER_LEEWAY: must be a duration"):
            VerifierSettings.from_env({**BASE, "SIGNET_VERIFIER_LEEWAY": value})
    assert duration_seconds(True) is None and duration_seconds(float("inf")) is None
