"""The configuration reference, docs/configuration.md, generated: `python -m app.config_table [--write]`.

Names, types, bounds and defaults come from the settings classes themselves (the
issuer's pydantic Settings, the verifier's VerifierSettings); the prose is kept here,
beside them, one entry per setting. Without `--write` it prints the tables; with it, it
rewrites docs/configuration.md between the `config-table` markers. tests/integration/test_docs_config_table.py
fails when the page and this output differ, or when a setting has no entry here. The prose links
to other pages of docs/ relative to that page (`key-rotation.md`, `operations.md#redis-urls`).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from signet.verifier.settings import ENVIRONMENT as VERIFIER_ENVIRONMENT
from signet.verifier.settings import VerifierSettings

from .settings import ENV_PREFIX, Settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
HEADER = "| Variable | Type | Default | Meaning |\n|---|---|---|---|"

# Defaults the class cannot say (computed at load time, or "unset" meaning something).
ISSUER_DEFAULTS = {
    "SIGNET_ISSUER": "`http://<host>:<port>`",
    "SIGNET_KMS_RING": "from the issuer URL",
    "SIGNET_KMS_ISSUER_PRINCIPAL": "the issuer's role, from STS",
    "SIGNET_KMS_ADMIN_PRINCIPAL": "the account root",
    "SIGNET_KMS_ENDPOINT_URL": "AWS default",
    "SIGNET_KMS_REGION": "AWS default",
    "SIGNET_FEDERATION_ISSUERS_FILE": "none",
    "SIGNET_FEDERATION_AUDIENCE": "the issuer URL",
}
VERIFIER_DEFAULTS = {
    "SIGNET_VERIFIER_JWKS_URL": "discovery",
    "SIGNET_VERIFIER_ALGORITHMS": "all eleven",
    "SIGNET_VERIFIER_ISSUERS_FILE": "none",
}
VERIFIER_TYPES = {"tuple[str, ...]": "list", "float": "number", "int": "integer",
                  "str | None": "string", "bytes | None": "secret", "str": "string",
                  "RootPins | None": "thumbprints or JWKs"}

ISSUER_MEANINGS: dict[str, str] = {
    "SIGNET_ISSUER": (
        "The issuer URL put in `iss` and the discovery documents. Must be `https` unless the host "
        "is loopback."),
    "SIGNET_ALLOW_HTTP_ISSUER": (
        "Allow an `http://` issuer outside loopback (only when TLS ends in a proxy you trust)."),
    "SIGNET_HOST": "Interface `signet serve` listens on (`0.0.0.0` in a container).",
    "SIGNET_PORT": "Port `signet serve` listens on; the demo service of `signet dev` takes the next one.",
    "SIGNET_KEY_BACKEND": "`local` (PEM files) or `kms` (AWS KMS).",
    "SIGNET_SIGNING_ALG": (
        "`RS256` `RS384` `RS512` `PS256` `PS384` `PS512` `ES256` `ES384` `ES512` `EdDSA` "
        "`Ed25519`. Must fit the key. `EdDSA` and `Ed25519` (RFC 8037, Ed25519 keys) need local "
        "keys: the local backend, or delegated mode, whose ephemeral keys are local (AWS KMS "
        "cannot sign them through the SDK Signet uses)."),
    "SIGNET_LOCAL_KEY_DIR": (
        "Directory of PKCS#8 PEM private keys (mode `0600`; group/other access is refused). One "
        "key is generated on first start when none fits `SIGNET_SIGNING_ALG`."),
    "SIGNET_RSA_KEY_BITS": "Size of the RSA keys Signet creates, locally or in KMS (2048, 3072, 4096).",
    "SIGNET_KMS_KEY_ID": (
        "Sign with this one fixed KMS key (key id, key ARN or `alias/NAME`; `SIGN_VERIFY`, "
        "enabled, of a spec that fits the algorithm); it never rotates. **Unset**: Signet creates "
        "and rotates its own KMS keys (see [Key rotation](key-rotation.md))."),
    "SIGNET_KMS_RING": (
        "Name of the managed KMS key ring: its keys carry the tag `signet:ring=<name>` and "
        "aliases `alias/signet/<name>/<kid>`."),
    "SIGNET_KMS_DELETION_WINDOW_DAYS": (
        "KMS deletion window (7-30 days) for retired managed keys; cancellable in KMS until it "
        "ends."),
    "SIGNET_KMS_ISSUER_PRINCIPAL": (
        "ARN of the issuer's IAM role (or user): the only principal each managed key's policy "
        "lets sign. Unset: derived from STS `GetCallerIdentity`, which loses a role's path, so "
        "set it for a role with a path (the `IssuerRoleArn` output of the CloudFormation "
        "template). See [managed keys' key policy](deployment.md#managed-keys-key-policy)."),
    "SIGNET_KMS_ADMIN_PRINCIPAL": (
        "ARN (`arn:aws:iam::ACCOUNT:root`, a role or a user) that may manage the managed keys "
        "(key policy, deletion, tags, aliases), never sign with them. Unset: the issuer's account "
        "root, that is whoever the account's IAM policies allow those actions."),
    "SIGNET_KMS_ENDPOINT_URL": "KMS endpoint (a moto server in tests, a VPC endpoint in production).",
    "SIGNET_KMS_REGION": "Region of the key (else `AWS_REGION` / `AWS_DEFAULT_REGION`).",
    "SIGNET_KMS_TIMEOUT_SECONDS": (
        "Connect and read timeout of each KMS attempt (botocore standard retry mode: 3 attempts, "
        "exponential backoff with jitter on throttling and 5xx)."),
    "SIGNET_KMS_DEADLINE_SECONDS": (
        "Bound on one KMS call, retries included: past it the call fails (`/readyz` unready, "
        "token requests refused) instead of hanging."),
    "SIGNET_KMS_MAX_CONCURRENCY": (
        "Most KMS `Sign` calls in flight from one issuer process (the account quota is shared)."),
    "SIGNET_ROTATION_PERIOD": (
        "How long a key signs before its successor takes over (local backend). Seconds, "
        "`90s`/`10m`/`12h`/`30d`, or ISO 8601 (`P30D`); `0` rotates only on demand. Must exceed "
        "the publish lead."),
    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": (
        "The longest any verifier caches the JWKS (the verifier setting of the same name). A new "
        "key is published at least this long (or `SIGNET_JWKS_MAX_AGE`, whichever is longer, plus "
        "the ring reload interval) before it signs. 0.1 s to 7 days, read exactly as verifiers read "
        "it."),
    "SIGNET_VERIFIER_LEEWAY": (
        "Clock skew verifiers accept on `exp`/`nbf`; a retired key stays published this much "
        "longer. 0 to 300 s, read exactly as verifiers read it; empty means the default."),
    "SIGNET_KEY_RING_RELOAD_SECONDS": (
        "How often each replica re-reads the key ring (and so how stale its view can be)."),
    "SIGNET_ADMIN_TOKEN": (
        "Enables the admin API (`/admin/...`) for callers presenting `Authorization: Bearer "
        "<token>`. Unset or empty: the admin API answers 404. At least 32 characters (8 or more "
        "different), of RFC 6750 token characters with no surrounding whitespace: anything "
        "else refuses start-up."),
    "SIGNET_REDIS_URL": (
        "Redis used by the issuer (throttling, the KMS key ring lock) and by tests. Required for "
        "managed KMS keys. `redis://`, `rediss://`, `unix://`, `redis+cluster://` or "
        "`redis+sentinel://` (see [Redis URLs](operations.md#redis-urls))."),
    "SIGNET_REDIS_PREFIX": "Prefix of every Redis key the issuer writes (one per deployment).",
    "SIGNET_CLIENTS_FILE": (
        "The client registry, YAML (`.yaml`, `.yml`) or TOML (`.toml`). See [The clients "
        "file](token-endpoint.md#the-clients-file)."),
    "SIGNET_TOKEN_LIFETIME_SECONDS": "Token lifetime for clients that set none.",
    "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": (
        "No token lives longer, whatever the client's setting. A key that stopped signing stays "
        "published for this + leeway + the ring reload interval."),
    "SIGNET_TOKEN_MAX_BODY_BYTES": (
        "Largest request body on any route (only `POST /token` takes one); larger gets `413`."),
    "SIGNET_MAX_HEADER_BYTES": (
        "Most bytes of header names and values in one request, on any route; more gets `431` (a"
        " request target over 8 KiB gets `414`). `signet serve` also stops reading a request head"
        " at twice this plus 16 KiB, while it arrives (`431`); under another server, let the proxy"
        " in front bound headers."),
    "SIGNET_CLIENT_AUTH_CACHE_SECONDS": (
        "How long a verified client secret skips the argon2id check (`0`: never)."),
    "SIGNET_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS": (
        "Furthest a `private_key_jwt` assertion's `exp` may be ahead."),
    "SIGNET_FEDERATION_ISSUERS_FILE": (
        "TOML file of `[[issuer]]` tables: the federation issuers (Kubernetes, SPIFFE, GitHub"
        " Actions) whose workload tokens authenticate clients; unset: none"
        " ([workload-identity.md](workload-identity.md))."),
    "SIGNET_FEDERATION_AUDIENCE": (
        "The audience a federated client assertion must carry, exactly (comma-separated for"
        " several, such as the issuer URL and the token endpoint)."),
    "SIGNET_FEDERATION_MAX_ASSERTION_LIFETIME_SECONDS": (
        "Longest a federated client assertion may live (`exp - iat`) and furthest its `exp` may be"
        " ahead: what a stolen, reusable workload token buys at most."),
    "SIGNET_AUTH_FAILURES_PER_CLIENT": "Failed authentications per client id per window before `429`.",
    "SIGNET_AUTH_FAILURES_PER_ADDRESS": "Failed authentications per source address per window before `429`.",
    "SIGNET_AUTH_FAILURE_WINDOW_SECONDS": "Length of a throttling window, from its first failure.",
    "SIGNET_JWKS_MAX_AGE": "`max-age` of the JWKS and discovery documents, seconds.",
    "SIGNET_READINESS_TIMEOUT_SECONDS": "How long `/readyz` waits for the key check.",
    "SIGNET_SHUTDOWN_GRACE_SECONDS": (
        "On SIGTERM `signet serve` stops accepting, lets in-flight requests finish for at most this"
        " long, then exits 0 (see [Shutdown](operations.md#shutdown)). Keep it below the orchestrator's"
        " kill timeout (Kubernetes `terminationGracePeriodSeconds`)."),
    "SIGNET_REQUEST_READ_TIMEOUT_SECONDS": (
        "`signet serve`: a request's head and body must arrive within this long from its first"
        " byte (or from the connection's opening), else `408` and the connection is closed."),
    "SIGNET_LOG_LEVEL": "`debug`, `info`, `warning`, `error`, in any letter case: Signet's loggers and"
                        " uvicorn's (the demo service reads it alike).",
    "SIGNET_LOG_FORMAT": "`json`: one JSON object per line on stderr, uvicorn's start-up and access"
                         " lines included, each with `request_id` while serving a request (see"
                         " [metrics-and-logs.md](metrics-and-logs.md#logs)). `text`: the same facts"
                         " as one readable line, for a terminal (`signet dev` uses it unless set).",
    "SIGNET_METRICS_ENABLED": (
        "Serve Prometheus metrics at `GET /metrics` on the issuer's listener; `false`: 404. See "
        "[Metrics and logs](metrics-and-logs.md)."),
    "SIGNET_SIGNING_MODE": (
        "`kms`: the key backend signs every token. `delegated`: it attests in-memory ephemeral"
        " keys that sign (see [High-volume mode](delegated-signing.md))."),
    "SIGNET_DELEGATED_KEY_LIFETIME": (
        "How long one ephemeral key signs before its successor takes over (delegated mode)."),
    "SIGNET_DELEGATED_ROOT_ALG": (
        "Delegated mode: the root key's algorithm, when it differs from `SIGNET_SIGNING_ALG` "
        "(the ephemeral keys'), e.g. `ES256` for a KMS root under `EdDSA` ephemeral keys. "
        "Empty: `SIGNET_SIGNING_ALG`."),
}

VERIFIER_MEANINGS: dict[str, str] = {
    "SIGNET_VERIFIER_ISSUER": (
        "Trusted issuer(s), comma-separated; exact `iss` values. https (http on loopback) unless "
        "a JWKS URL is given. Required unless `SIGNET_VERIFIER_ISSUERS_FILE` names the issuers."),
    "SIGNET_VERIFIER_AUDIENCE": (
        "Accepted audience(s), comma-separated. Required unless every issuer of"
        " `SIGNET_VERIFIER_ISSUERS_FILE` has its own `audiences`."),
    "SIGNET_VERIFIER_JWKS_URL": "JWKS URL of the (single) issuer instead of OpenID discovery.",
    "SIGNET_VERIFIER_LEEWAY": (
        "Clock skew allowed on `exp`, `nbf`, `iat` (0-300 s). Like every verifier duration: seconds"
        " (`30`), with a unit (`30s`, `5m`, `1h`, `7d`) or ISO 8601 (`PT30S`), as the issuer reads it."),
    "SIGNET_REDIS_URL": (
        "Redis shared by the fleet (`redis://`, `rediss://`, `unix://`, `redis+cluster://`, "
        "`redis+sentinel://`; see [Redis URLs](operations.md#redis-urls)). Without it: memory and HTTP"
        " only."),
    "SIGNET_VERIFIER_REDIS_PREFIX": "Prefix of the verifier's Redis keys and channel (one per deployment).",
    "SIGNET_CACHE_INTEGRITY_KEY": (
        "Secret (16+ bytes, 8 or more different, no surrounding whitespace) for the HMAC on "
        "Redis entries; empty means unset. Strongly recommended: without it a verifier using "
        "Redis logs a warning."),
    "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "Lower bound of the issuer's max-age.",
    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": (
        "Upper bound of the issuer's max-age (300 when the issuer sends none)."),
    "SIGNET_VERIFIER_MAX_STALENESS_SECONDS": (
        "How long past freshness keys stay usable while the issuer is unreachable."),
    "SIGNET_VERIFIER_UNKNOWN_KID_COOLDOWN_SECONDS": "Per-issuer pause between unknown-kid refetches.",
    "SIGNET_VERIFIER_HTTP_TIMEOUT_SECONDS": (
        "Connect/read timeout of discovery and JWKS requests (and Redis)."),
    "SIGNET_VERIFIER_TOKEN_CACHE_SIZE": "Entries of the verified-token cache (0 disables it).",
    "SIGNET_VERIFIER_MAX_TOKEN_BYTES": "Longer tokens are refused unparsed.",
    "SIGNET_VERIFIER_ROOT_KEYS": (
        "Pinned root keys (RFC 7638 thumbprints, comma-separated, or a JWK / JWK array / JWKS):"
        " then only keys with a valid `signet_attestation` by one of them are trusted."),
    "SIGNET_VERIFIER_JWKS_HOSTS": (
        "Hosts, comma-separated, besides each issuer's own, that its discovery document's"
        " `jwks_uri` may name (https only). Unset: the issuer's host alone."),
    "SIGNET_VERIFIER_ALGORITHMS": (
        "Allow-list, comma-separated (`ES256,RS256`, ...). HMAC and `none` cannot be listed."
        " Set, it is also what an RSA key published without `alg` may verify (unset: RS256 only)."
        " `EdDSA` (RFC 8037, Ed25519 keys only; Ed448 is refused) and `Ed25519` (RFC 9864) are"
        " separate names: a key verifies only the one its `alg` names; an OKP key without"
        " `alg` verifies whichever of them is listed."),
    "SIGNET_VERIFIER_PROFILE": (
        "Issuer profile of the issuers in `SIGNET_VERIFIER_ISSUER`: `rfc9068` (Signet's own"
        " tokens), `oauth-access-token`, `keycloak`, `entra`, `okta`, `auth0`, `cognito` (see"
        " [Trusting other identity providers](verifier.md#trusting-other-identity-providers))."),
    "SIGNET_VERIFIER_ISSUERS_FILE": (
        "A TOML file of `[[issuer]]` tables, each an issuer with its own profile, audiences,"
        " algorithms and JWKS URL, trusted besides those of `SIGNET_VERIFIER_ISSUER` (see"
        " [Trusting other identity providers](verifier.md#trusting-other-identity-providers))."),
}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{_number(seconds)}s"


def _bounds(field: FieldInfo) -> str:
    """The Field constraints, as "1 to 65535", ">0 to 60" or "length 1 to 64"."""
    low = high = ""
    length = False
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = _number(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Gt):
            low = ">" + _number(rule.gt)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            high = _number(rule.le)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.MinLen):
            low, length = _number(rule.min_length), True
        elif isinstance(rule, annotated_types.MaxLen):
            high, length = _number(rule.max_length), True
    if not (low or high):
        return ""
    return ("length " if length else "") + f"{low or '…'} to {high or '…'}"


def issuer_type(field: FieldInfo) -> str:
    annotation = field.annotation
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    args = set(typing.get_args(annotation)) - {type(None)}
    base = next(iter(args)) if args else annotation
    name = {bool: "boolean", int: "integer", float: "number", str: "string", Path: "path",
            timedelta: "duration"}.get(base, "secret" if "Secret" in str(base) else str(base))
    bounds = _bounds(field)
    return f"{name}, {bounds}" if bounds else name


def issuer_default(name: str, field: FieldInfo) -> str:
    if name in ISSUER_DEFAULTS:
        return ISSUER_DEFAULTS[name]
    value: Any = field.default
    if value is None or value == "" or value is PydanticUndefined:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{_duration(value)}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    return f"`{value}`"


def verifier_default(name: str, field: dataclasses.Field[Any]) -> str:
    if name in VERIFIER_DEFAULTS:
        return VERIFIER_DEFAULTS[name]
    if field.default is dataclasses.MISSING:
        return "required"
    if field.default is None:
        return "—"
    if isinstance(field.default, int | float):
        return f"`{_number(field.default)}`"
    return f"`{field.default}`"


def issuer_table() -> str:
    rows = [HEADER]
    for attribute, field in Settings.model_fields.items():
        name = (ENV_PREFIX + attribute).upper()
        rows.append(f"| `{name}` | {issuer_type(field)} | {issuer_default(name, field)} |"
                    f" {ISSUER_MEANINGS[name]} |")
    return "\n".join(rows)


def verifier_table() -> str:
    rows = [HEADER]
    fields = {f.name: f for f in dataclasses.fields(VerifierSettings)}
    for attribute, name in VERIFIER_ENVIRONMENT.items():
        field = fields[attribute]
        kind = VERIFIER_TYPES[str(field.type)]  # a new type needs its plain name here
        rows.append(f"| `{name}` | {kind} | {verifier_default(name, field)} | {VERIFIER_MEANINGS[name]} |")
    return "\n".join(rows)


TABLES = {"issuer": issuer_table, "verifier": verifier_table}


def markers(table: str) -> tuple[str, str]:
    return (f"<!-- config-table:{table} begin (generated by `python -m app.config_table --write`;"
            " do not edit) -->", f"<!-- config-table:{table} end -->")


def with_tables(page: str) -> str:
    """`page` with every generated table replaced by the current output."""
    for table, generate in TABLES.items():
        begin, end = markers(table)
        pattern = re.compile(re.escape(begin) + r"\n.*?\n" + re.escape(end), re.DOTALL)
        if not pattern.search(page):
            raise SystemExit(f"{PAGE.name} has no {table} table markers")
        page = pattern.sub(lambda _: f"{begin}\n{generate()}\n{end}", page)  # noqa: B023
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="rewrite docs/configuration.md between the markers")
    args = parser.parse_args(argv)
    if args.write:
        PAGE.write_text(with_tables(PAGE.read_text()))
        return 0
    for table, generate in TABLES.items():
        print(f"{table}:\n{generate()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
