"""Issuer configuration: every setting is an environment variable prefixed SIGNET_.

Loading never raises a pydantic traceback at the user: `load_settings` turns every
problem into a ConfigurationError whose message starts with the variable to fix.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from signet.algorithms import ALGORITHMS, DEFAULT_ALGORITHM

ENV_PREFIX = "SIGNET_"


class ConfigurationError(Exception):
    """Settings that cannot work. str() is one line that names the setting."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # Where the issuer listens (used by `signet serve`) and the issuer URL it announces.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    issuer: str | None = None  # default: http://<host>:<port>
    allow_http_issuer: bool = False  # http:// issuer outside loopback: only behind TLS you trust

    key_backend: Literal["local", "kms"] = "local"
    signing_alg: str = DEFAULT_ALGORITHM

    local_key_dir: Path = Path(".signet/keys")
    local_rsa_key_bits: Literal[2048, 3072, 4096] = 2048

    kms_key_id: str = ""
    kms_endpoint_url: str | None = None
    kms_region: str | None = None
    kms_timeout_seconds: float = Field(5.0, gt=0, le=60)
    kms_max_concurrency: int = Field(64, ge=1, le=1000)

    redis_url: str | None = None
    redis_prefix: str = Field("signet:", min_length=1, max_length=64)

    # The token endpoint (issue 3): registry, token lifetimes, request limits, throttling.
    clients_file: Path = Path(".signet/clients.yaml")
    token_lifetime_seconds: int = Field(300, ge=1, le=86400)
    max_token_lifetime_seconds: int = Field(3600, ge=1, le=86400)
    token_max_body_bytes: int = Field(16384, ge=1024, le=1048576)
    client_auth_cache_seconds: int = Field(300, ge=0, le=3600)
    client_assertion_max_lifetime_seconds: int = Field(300, ge=10, le=3600)
    auth_failures_per_client: int = Field(10, ge=1, le=100000)
    auth_failures_per_address: int = Field(50, ge=1, le=100000)
    auth_failure_window_seconds: int = Field(300, ge=1, le=86400)

    jwks_max_age: int = Field(300, ge=0, le=86400)
    readiness_timeout_seconds: float = Field(2.0, gt=0, le=30)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("signing_alg")
    @classmethod
    def _known_algorithm(cls, value: str) -> str:
        if value not in ALGORITHMS:
            raise ValueError(f"unsupported algorithm {value!r}; choose one of {', '.join(ALGORITHMS)}")
        return value

    @field_validator("clients_file")
    @classmethod
    def _clients_file_format(cls, value: Path) -> Path:
        if value.suffix not in (".yaml", ".yml", ".toml"):
            raise ValueError(f"{value}: the name must end in .yaml, .yml or .toml (the file format)")
        return value

    @field_validator("max_token_lifetime_seconds")
    @classmethod
    def _max_covers_default(cls, value: int, info: ValidationInfo) -> int:
        default = info.data.get("token_lifetime_seconds")
        if default is not None and value < default:
            raise ValueError(f"{value} is less than SIGNET_TOKEN_LIFETIME_SECONDS ({default})")
        return value

    @model_validator(mode="after")
    def _issuer_url(self) -> Settings:
        if self.issuer is None:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
            object.__setattr__(self, "issuer", f"http://{host}:{self.port}")
        issuer = str(self.issuer).rstrip("/")
        parts = urlsplit(issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"issuer must be an absolute https URL, got {issuer!r}")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (RFC 8414 section 2)")
        if parts.scheme == "http" and not (is_loopback_host(parts.hostname) or self.allow_http_issuer):
            raise ValueError("issuer must use https outside loopback"
                             " (SIGNET_ALLOW_HTTP_ISSUER=true if TLS ends in front of Signet)")
        object.__setattr__(self, "issuer", issuer)
        return self

    @property
    def issuer_url(self) -> str:
        assert self.issuer is not None
        return self.issuer

    @property
    def token_endpoint(self) -> str:
        return self.issuer_url + "/token"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and overrides), or one ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
        setting = ENV_PREFIX + (loc[0].upper() if loc else "ISSUER")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigurationError(f"{setting}: {message}") from None
