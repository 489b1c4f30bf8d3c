"""Issuer settings that look set but protect nothing are refused at start-up, naming the
variable: secrets padded with whitespace or made of one repeated character, negative
durations, read timeouts too short for any client (in process: load_settings only)."""

from __future__ import annotations

import pytest

from app.settings import ConfigurationError, load_settings

GOOD_TOKEN = "admin-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SIGNET_ADMIN_TOKEN", " " * 31 + "x", "must be a bearer token"),
    ("SIGNET_ADMIN_TOKEN", "\t" * 31 + "x", "must be a bearer token"),
    ("SIGNET_ADMIN_TOKEN", "\u200b" * 31 + "x", "must be a bearer token"),
    ("SIGNET_ADMIN_TOKEN", GOOD_TOKEN + "\n", "must be a bearer token"),  # a mounted file's newline
    ("SIGNET_ADMIN_TOKEN", "\u00e9" * 32, "must be a bearer token"),  # cannot travel in a header
    ("SIGNET_ADMIN_TOKEN", "x" * 32, "must be at least 32 characters, at least 8"),
    ("SIGNET_ADMIN_TOKEN", "x" * 31, "must be at least 32 characters"),
    ("SIGNET_VERIFIER_LEEWAY", "-1d", "must be from 0 to 300"),  # as verifiers read it
    ("SIGNET_VERIFIER_LEEWAY", "-30", "must be from 0 to 300"),
    ("SIGNET_ROTATION_PERIOD", "-P1D", "must not be negative"),
    ("SIGNET_REQUEST_READ_TIMEOUT_SECONDS", "1e-9", "Input should be greater than or equal to 1"),
])
def test_settings_that_protect_nothing_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                   value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value).startswith(f"{variable}: {message}"), str(raised.value)
    assert value.strip() not in str(raised.value) or len(value.strip()) < 8  # no secret echoed


def test_a_well_formed_admin_token_and_zero_durations_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNET_ADMIN_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("SIGNET_VERIFIER_LEEWAY", "0")
    monkeypatch.setenv("SIGNET_ROTATION_PERIOD", "0")  # rotate only on demand
    settings = load_settings()
    assert settings.admin_token is not None and settings.admin_token.get_secret_value() == GOOD_TOKEN
    assert settings.verifier_leeway.total_seconds() == 0


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
@pytest.mark.parametrize(("env", "variable"), [
    ({"SIGNET_KEY_BACKEND": "kms"}, "SIGNET_SIGNING_ALG"),
    ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": "alias/root"}, "SIGNET_SIGNING_ALG"),
    ({"SIGNET_KEY_BACKEND": "kms", "SIGNET_SIGNING_MODE": "delegated"}, "SIGNET_DELEGATED_ROOT_ALG"),
])
def test_kms_cannot_sign_eddsa_and_start_up_says_which_setting(
        monkeypatch: pytest.MonkeyPatch, alg: str, env: dict[str, str], variable: str) -> None:
    """botocore 1.40.61 (the SDK aioboto3 15.5.0 pins) knows no Ed25519 key spec: refused at
    start-up, not at the first key creation, naming the setting to change."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SIGNET_SIGNING_ALG", alg)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable}: {alg} cannot be signed by AWS KMS"), message
    assert "botocore 1.40.61" in message and "ECC_NIST_EDWARDS25519" in message


def test_eddsa_is_issued_by_local_keys_and_under_a_kms_root_in_delegated_mode(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNET_SIGNING_ALG", "EdDSA")
    local = load_settings()
    assert (local.signing_alg, local.root_signing_alg) == ("EdDSA", "EdDSA")
    monkeypatch.setenv("SIGNET_KEY_BACKEND", "kms")
    monkeypatch.setenv("SIGNET_SIGNING_MODE", "delegated")
    monkeypatch.setenv("SIGNET_DELEGATED_ROOT_ALG", "ES256")
    delegated = load_settings()
    assert (delegated.signing_alg, delegated.root_signing_alg) == ("EdDSA", "ES256")
    monkeypatch.setenv("SIGNET_SIGNING_MODE", "kms")  # the root alg means nothing outside delegated
    with pytest.raises(ConfigurationError, match="^SIGNET_SIGNING_ALG: EdDSA cannot"):
        load_settings()
    monkeypatch.setenv("SIGNET_DELEGATED_ROOT_ALG", "HS256")
    with pytest.raises(ConfigurationError, match="^SIGNET_DELEGATED_ROOT_ALG: unsupported algorithm"):
        load_settings()
