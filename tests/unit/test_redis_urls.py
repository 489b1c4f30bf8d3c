"""The one Redis URL parser (signet/redis_url.py): every documented form accepted, bad ones
refused with a reason naming the setting, never the password (no server needed)."""

from __future__ import annotations

import pytest

from app.settings import ConfigurationError, load_settings
from signet.redis_url import check_redis_url, redact
from signet.verifier import Verifier, VerifierConfigError


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0", "rediss://u:p@h:6380/1", "unix:///run/redis.sock",
    "redis+cluster://a:7000,b:7001", "rediss+cluster://user:pw@[::1]:7000",
    "redis+sentinel://s1:26379,s2:26379/mymaster", "redis+sentinel://:pw@s1:26379/mymaster/2"])
def test_documented_url_forms_are_accepted(url: str) -> None:
    check_redis_url(url)


@pytest.mark.parametrize(("url", "problem"), [
    ("http://h:6379", "must start with one of"),
    ("redis+cluster://h", "expected host:port"),
    ("redis+cluster://h:7000/3", "no database path"),
    ("redis+sentinel://h:26379", "name the service"),
    ("redis+sentinel://h:26379/svc/x", "must be a number")])
def test_bad_urls_are_refused_with_a_reason(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_redis_url(url)


def test_issuer_and_verifier_refuse_a_bad_url_naming_the_setting_never_the_password() -> None:
    bad = "redis+sentinel://:hunter2@h:26379"
    with pytest.raises(ConfigurationError) as issuer_error:
        load_settings(redis_url=bad)
    assert str(issuer_error.value).startswith("SIGNET_REDIS_URL:")
    with pytest.raises(VerifierConfigError) as verifier_error:
        Verifier(issuer="https://i.test", audience="a", redis_url=bad)
    for message in (str(issuer_error.value), str(verifier_error.value)):
        assert "hunter2" not in message and "name the service" in message
    assert redact("redis://u:secret@h:1/0") == "redis://u:***@h:1/0"
