"""Issuer configuration: every setting is an environment variable prefixed SIGNET_.

Loading never raises a pydantic traceback at the user: `load_settings` turns every
problem into a ConfigurationError whose message starts with the variable to fix.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from signet.algorithms import ALGORITHMS, DEFAULT_ALGORITHM
from signet.durations import SHARED_RANGES, checked_duration, duration_seconds
from signet.keys.kms_policy import check_admin_principal, check_issuer_principal
from signet.redis_url import check_redis_url
from signet.urls import is_loopback_host

ENV_PREFIX = "SIGNET_"


class ConfigurationError(Exception):
    """Settings that cannot work. str() is one line that names the setting."""




MIN_ADMIN_TOKEN_CHARS = 32  # SIGNET_ADMIN_TOKEN; empty means unset
# A random token of 32 characters has far more distinct ones; "x" * 32 or 31 spaces and
# one letter are not secrets. The same floor applies to SIGNET_CACHE_INTEGRITY_KEY.
MIN_DISTINCT_CHARS = 8
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 section 2.1 b64token


def log_level(value: object) -> str:
    """SIGNET_LOG_LEVEL as the issuer and the demo service both read it: any letter case."""
    level = value.lower() if isinstance(value, str) else value
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return str(level)


def log_format(value: object) -> str:
    """SIGNET_LOG_FORMAT as the issuer and the demo service both read it: any letter case."""
    name = value.lower() if isinstance(value, str) else value
    if name not in LOG_FORMATS:
        raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return str(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # Where the issuer listens (used by `signet serve`) and the issuer URL it announces.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    allow_http_issuer: bool = False  # http:// issuer outside loopback: only behind TLS you trust
    issuer: str | None = None  # default: http://<host>:<port>

    key_backend: Literal["local", "kms"] = "local"
    # kms: the backend's key signs every token; delegated: it attests ephemeral keys that do.
    signing_mode: Literal["kms", "delegated"] = "kms"
    delegated_key_lifetime: timedelta = timedelta(hours=1)  # how long one ephemeral key signs
    signing_alg: str = DEFAULT_ALGORITHM
    # Delegated mode: the root key's algorithm when it differs from the ephemeral keys'
    # (EdDSA ephemeral keys under a KMS root, which cannot sign EdDSA). Empty: SIGNING_ALG.
    delegated_root_alg: str = ""

    local_key_dir: Path = Path(".signet/keys")
    rsa_key_bits: Literal[2048, 3072, 4096] = 2048  # size of RSA keys Signet creates

    kms_key_id: str = ""  # a fixed key; unset = Signet creates and rotates its own keys
    kms_ring: str | None = None  # names the managed keys' aliases; default from the issuer URL
    kms_deletion_window_days: int = Field(30, ge=7, le=30)  # retired keys: KMS deletion window
    # The managed keys' key policy: who alone may sign (default: this process's role, as STS
    # names it) and who may manage them (default: the issuer's account root).
    kms_issuer_principal: str | None = None
    kms_admin_principal: str | None = None
    kms_endpoint_url: str | None = None
    kms_region: str | None = None
    kms_timeout_seconds: float = Field(5.0, gt=0, le=60)  # per attempt (connect, read)
    kms_deadline_seconds: float = Field(8.0, gt=0, le=120)  # per call, retries included
    kms_max_concurrency: int = Field(64, ge=1, le=1000)

    redis_url: str | None = Field(None, repr=False)  # may hold an ACL password
    admin_token: SecretStr | None = None  # unset: no admin API at all
    redis_prefix: str = Field("signet:", min_length=1, max_length=64)

    # The token endpoint (issue 3): registry, token lifetimes, request limits, throttling.
    clients_file: Path = Path(".signet/clients.yaml")
    token_lifetime_seconds: int = Field(300, ge=1, le=86400)
    max_token_lifetime_seconds: int = Field(3600, ge=1, le=86400)
    token_max_body_bytes: int = Field(16384, ge=1024, le=1048576)
    max_header_bytes: int = Field(16384, ge=4096, le=1048576)  # every route: 431 past it
    client_auth_cache_seconds: int = Field(300, ge=0, le=3600)
    client_assertion_max_lifetime_seconds: int = Field(300, ge=10, le=3600)
    auth_failures_per_client: int = Field(10, ge=1, le=100000)
    auth_failures_per_address: int = Field(50, ge=1, le=100000)
    auth_failure_window_seconds: int = Field(300, ge=1, le=86400)
    # Federated client authentication: workload identity tokens as client assertions.
    federation_issuers_file: Path | None = None  # TOML [[issuer]] tables; unset: none trusted
    federation_audience: str | None = None  # comma-separated; unset: the issuer URL
    federation_max_assertion_lifetime_seconds: int = Field(3600, ge=60, le=86400)

    jwks_max_age: int = Field(300, ge=0, le=86400)

    # Key rotation (local backend). Durations: seconds, or ISO 8601 such as P30D / PT1H.
    rotation_period: timedelta = timedelta(days=30)  # 0 = rotate only on demand
    # The longest any verifier caches the JWKS: the verifier setting of the same name.
    verifier_max_cache_seconds: timedelta = timedelta(hours=1)
    verifier_leeway: timedelta = timedelta(seconds=30)  # clock skew verifiers accept on exp/nbf
    key_ring_reload_seconds: float = Field(10.0, gt=0, le=300)  # how stale a replica's ring may be
    readiness_timeout_seconds: float = Field(2.0, gt=0, le=30)
    # SIGTERM: stop accepting, let in-flight requests finish for at most this long, exit 0.
    shutdown_grace_seconds: float = Field(20.0, gt=0, le=600)
    # `signet serve`: a request (head and body) must arrive within this long, else 408.
    request_read_timeout_seconds: float = Field(10.0, ge=1, le=600)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"  # every line on the stream, uvicorn's included
    metrics_enabled: bool = True  # GET /metrics (Prometheus); false: 404

    @field_validator("federation_issuers_file", "federation_audience", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """Empty (as templating often leaves it) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        return log_level(value)  # the demo service reads SIGNET_LOG_LEVEL the same way

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return log_format(value)  # and SIGNET_LOG_FORMAT

    @field_validator("signing_alg", "delegated_root_alg")
    @classmethod
    def _known_algorithm(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "delegated_root_alg" and not value.strip():
            return ""
        if value not in ALGORITHMS:
            raise ValueError(f"unsupported algorithm {value!r}; choose one of {', '.join(ALGORITHMS)}")
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        """Empty (as templating often leaves it) means unset: no admin API. A set token must
        be long enough that guessing it online is hopeless."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            if not BEARER_TOKEN.fullmatch(value):
                raise ValueError("must be a bearer token: letters, digits and -._~+/ (RFC 6750"
                                 " b64token), no spaces, no surrounding whitespace (a newline at"
                                 " the end of a mounted file counts)")
            if len(value) < MIN_ADMIN_TOKEN_CHARS or len(set(value)) < MIN_DISTINCT_CHARS:
                raise ValueError(f"must be at least {MIN_ADMIN_TOKEN_CHARS} characters, at least"
                                 f" {MIN_DISTINCT_CHARS} of them different (for example:"
                                 " python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return value

    @field_validator("kms_issuer_principal", "kms_admin_principal")
    @classmethod
    def _principal_arn(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Empty means unset. An ARN KMS could not name in a key policy stops start-up here,
        not at the first key creation (which may be a rotation period away)."""
        if value is None or not value.strip():
            return None
        if info.field_name == "kms_issuer_principal":
            return check_issuer_principal(value.strip())
        if value.strip() == info.data.get("kms_issuer_principal"):
            raise ValueError("must not be SIGNET_KMS_ISSUER_PRINCIPAL: the issuer could then"
                             " change who may use its keys")
        return check_admin_principal(value.strip())

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value:
            check_redis_url(value)  # one parser for issuer and verifiers: signet/redis_url.py
        return value or None

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

    @field_validator("rotation_period", "delegated_key_lifetime", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """Accept 3600, "3600", "90s", "10m", "12h", "30d" as well as ISO 8601 ("P30D")."""
        if isinstance(value, str):
            seconds = duration_seconds(value)
            if seconds is not None:
                return seconds
        return value

    @field_validator("verifier_max_cache_seconds", "verifier_leeway", mode="before")
    @classmethod
    def _verifier_duration(cls, value: object, info: ValidationInfo) -> object:
        """Verifiers read these variables too: the same spellings, range, empty-means-unset
        and messages as theirs (signet.durations.SHARED_RANGES)."""
        if value == "":
            return cls.model_fields[str(info.field_name)].default
        if isinstance(value, timedelta):
            value = value.total_seconds()
        return checked_duration(value, *SHARED_RANGES[f"{ENV_PREFIX}{str(info.field_name).upper()}"])

    @field_validator("rotation_period", "verifier_max_cache_seconds", "verifier_leeway",
                     "delegated_key_lifetime")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        """A negative leeway would unpublish keys while their tokens are still accepted."""
        if value.total_seconds() < 0:
            raise ValueError(f"must not be negative, got {value.total_seconds():g} s")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        issuer = value.rstrip("/")
        parts = urlsplit(issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"issuer must be an absolute https URL, got {issuer!r}")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (RFC 8414 section 2)")
        allow_http = info.data.get("allow_http_issuer", False)
        if parts.scheme == "http" and not (is_loopback_host(parts.hostname) or allow_http):
            raise ValueError("issuer must use https outside loopback"
                             " (SIGNET_ALLOW_HTTP_ISSUER=true if TLS ends in front of Signet)")
        return issuer

    @model_validator(mode="after")
    def _default_issuer(self) -> Settings:
        if self.issuer is None:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
            object.__setattr__(self, "issuer", f"http://{host}:{self.port}")
        return self

    @model_validator(mode="after")
    def _rotation_fits(self) -> Settings:
        period = self.rotation_period.total_seconds()
        lead = self.publish_lead_seconds
        if period < 0:
            raise ValueError("SIGNET_ROTATION_PERIOD must not be negative")
        if 0 < period <= lead:
            raise ValueError(f"SIGNET_ROTATION_PERIOD ({period:g}s) must be longer than the publish"
                             f" lead ({lead:g}s = max(SIGNET_VERIFIER_MAX_CACHE_SECONDS, SIGNET_JWKS_MAX_AGE)"
                             " + SIGNET_KEY_RING_RELOAD_SECONDS): a key is published before it signs")
        return self

    @model_validator(mode="after")
    def _delegated_lifetime(self) -> Settings:
        if self.delegated_key_lifetime.total_seconds() <= 0:
            raise ValueError("SIGNET_DELEGATED_KEY_LIFETIME must be positive")
        return self

    @model_validator(mode="after")
    def _kms_can_sign(self) -> Settings:
        """KMS cannot sign EdDSA through the pinned SDK: say so at start-up, naming the
        setting, rather than at the first key creation."""
        if self.key_backend != "kms" or ALGORITHMS[self.root_signing_alg].kms_can_sign:
            return self
        name = self.root_signing_alg
        if self.signing_mode == "delegated":
            raise ValueError(
                f"SIGNET_DELEGATED_ROOT_ALG: {name} cannot be signed by AWS KMS through the AWS"
                " SDK Signet uses (botocore 1.40.61 knows no ECC_NIST_EDWARDS25519 key spec);"
                " set SIGNET_DELEGATED_ROOT_ALG to the KMS root key's algorithm, e.g. ES256")
        raise ValueError(
            f"SIGNET_SIGNING_ALG: {name} cannot be signed by AWS KMS through the AWS SDK Signet"
            " uses (botocore 1.40.61 knows no ECC_NIST_EDWARDS25519 key spec); use"
            " SIGNET_KEY_BACKEND=local, or SIGNET_SIGNING_MODE=delegated with"
            " SIGNET_DELEGATED_ROOT_ALG=ES256 (local EdDSA keys, attested by the KMS root)")

    @property
    def root_signing_alg(self) -> str:
        """The algorithm of the key that signs tokens (kms mode) or attestations (delegated)."""
        if self.signing_mode == "delegated" and self.delegated_root_alg:
            return self.delegated_root_alg
        return self.signing_alg

    @property
    def publish_lead_seconds(self) -> float:
        """A new key signs only after every verifier (and every replica) can know it."""
        cache = max(self.verifier_max_cache_seconds.total_seconds(), float(self.jwks_max_age))
        return cache + self.key_ring_reload_seconds

    @property
    def retire_after_seconds(self) -> float:
        """An old key stays published until the last token it signed has expired everywhere."""
        return (self.max_token_lifetime_seconds + self.verifier_leeway.total_seconds()
                + self.key_ring_reload_seconds)

    @property
    def issuer_url(self) -> str:
        assert self.issuer is not None
        return self.issuer

    @property
    def federation_audiences(self) -> tuple[str, ...]:
        """The audience a federated client assertion must carry (exactly one of these)."""
        named = tuple(item.strip() for item in (self.federation_audience or "").split(",")
                      if item.strip())
        return named or (self.issuer_url,)

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
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if not loc:  # a rule across settings: its message names them itself
            raise ConfigurationError(message) from None
        raise ConfigurationError(f"{ENV_PREFIX}{loc[0].upper()}: {message}") from None
