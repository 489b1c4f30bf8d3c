"""Delegated signing (SIGNET_SIGNING_MODE=delegated) against its baselines, same run.

    python -m bench.bench_delegated [--seconds 3] [--rounds 3]

- /token in delegated mode vs bench/bare_apps.py (FastAPI + cryptography signing the same
  ES256 claims and nothing else: issue 11's "bare local-signing baseline", target >= 0.7x),
  and vs /token with a local ES256 key (the same issuer signing locally: what the delegation
  machinery itself costs; also held to 0.7x);
- the signer alone, in process: JwsSigner over the delegated backend vs over the local
  backend (target >= 0.7x);
- delegated vs kms mode with 20 ms of latency injected in front of moto
  (tests/support/fault_proxy.py), at concurrency 1 and 8 (expected > 10x);
- tokens per KMS Sign call in delegated mode, counted by the fault proxy (every Sign
  since the issuer started, warm-up included), as Sign calls per 100,000 tokens
  (target <= 100, i.e. >= 1,000 tokens per Sign).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx

from bench.bench_issuer import (
    CONCURRENCY,
    Load,
    register_client,
    require_no_errors,
    token_script,
    warm_up,
    wrk,
)
from bench.report import Figure, timed_bench_main
from signet.jose import b64url_decode
from tests.support.processes import (
    MOTO_CREDENTIALS,
    Service,
    free_port,
    start_fault_proxy,
    start_issuer,
    start_moto,
    start_redis,
)

JWKS = "/.well-known/jwks.json"


def _load(url: str, concurrency: int, seconds: float, script: Path) -> Load:
    load = wrk(url + "/token", concurrency, seconds, script)
    require_no_errors([load], url)
    return load


def _wait_for_ephemeral(base: str, secret: str, timeout: float = 60) -> int:
    """Request tokens until an attested key signs; returns how many tokens that took."""
    root = {k["kid"] for k in httpx.get(base + JWKS).json()["keys"] if "signet_attestation" not in k}
    deadline, tokens = time.monotonic() + timeout, 0
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            response = client.post(base + "/token", data={"grant_type": "client_credentials"},
                                   auth=("bench", secret))
            response.raise_for_status()
            tokens += 1
            head = response.json()["access_token"].split(".")[0]
            kid = json.loads(b64url_decode(head))["kid"]
            if kid not in root:
                return tokens
            time.sleep(0.1)
    raise SystemExit("bench: the delegated issuer never started signing with an ephemeral key")


def _sign_calls(proxy_url: str) -> int:
    return int(httpx.get(proxy_url + "/__fault__").json()["calls"].get("Sign", 0))


async def _signer_rates(seconds: float) -> tuple[float, float]:
    """Tokens/s of JwsSigner in process: delegated backend (local root) vs local backend."""
    from signet.algorithms import ALGORITHMS
    from signet.keys.delegated import DelegatedBackend, DelegatedTiming
    from signet.keys.local import LocalKeyBackend
    from signet.signer import JwsSigner

    alg = ALGORITHMS["ES256"]
    work = Path(tempfile.mkdtemp(prefix="signet-bench-signer-"))
    clock = [time.time()]
    local = LocalKeyBackend(work / "local", alg)
    await local.open()
    delegated = DelegatedBackend(LocalKeyBackend(work / "root", alg), "https://bench.example", alg,
                                 DelegatedTiming(publish_lead=1, retire_after=1, lifetime=3600),
                                 None, clock=lambda: clock[0])
    await delegated.open()
    clock[0] += 1
    await delegated.tick()
    assert delegated.signing_key().published.kid != delegated.root.signing_key().published.kid
    claims = {"iss": "https://bench.example", "sub": "bench", "aud": "api://bench", "exp": 2_000_000_000,
              "iat": 1_800_000_000, "jti": uuid.uuid4().hex, "client_id": "bench", "scope": "read"}

    signers = {"delegated": JwsSigner(delegated), "local": JwsSigner(local)}
    done = dict.fromkeys(signers, 0)
    spent = dict.fromkeys(signers, 0.0)

    async def burst(name: str, slice_seconds: float = 0.1) -> None:
        """Short alternating bursts, so drifting machine load hits both sides alike."""
        signer, start = signers[name], time.perf_counter()
        while time.perf_counter() - start < slice_seconds:
            await signer.sign(claims)
            done[name] += 1
        spent[name] += time.perf_counter() - start

    async def rates() -> tuple[float, float]:
        end = time.perf_counter() + 2 * seconds
        while time.perf_counter() < end:
            await burst("delegated")
            await burst("local")
        return done["delegated"] / spent["delegated"], done["local"] / spent["local"]

    try:
        return await rates()
    finally:
        await delegated.aclose()
        await local.aclose()
        shutil.rmtree(work, ignore_errors=True)


def run(seconds: float, rounds: int) -> list[Figure]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk not found (apt-get install wrk)")
    figures: list[Figure] = []
    work = Path(tempfile.mkdtemp(prefix="signet-bench-delegated-"))
    services: list[Service] = []
    try:
        env = {"SIGNET_LOCAL_KEY_DIR": str(work / "keys"), "SIGNET_CLIENTS_FILE": str(work / "clients.yaml"),
               "SIGNET_LOG_LEVEL": "warning"}
        secret = register_client(env)
        script = token_script(work, "bench", secret)
        moto, moto_url = start_moto()
        redis, redis_url = start_redis()
        proxy, proxy_url = start_fault_proxy(moto_url)
        services += [moto, redis, proxy]
        kms = boto3.client("kms", endpoint_url=moto_url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        # Every issuer gets the same Redis: only the signing differs between the sides.
        env["SIGNET_REDIS_URL"] = redis_url
        kms_env = {**env, **MOTO_CREDENTIALS, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
                   "SIGNET_KMS_REGION": "us-east-1", "SIGNET_KMS_ENDPOINT_URL": proxy_url}
        # A short publish lead so the first ephemeral key signs within seconds.
        delegated_env = {**kms_env, "SIGNET_SIGNING_MODE": "delegated",
                         "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "1", "SIGNET_JWKS_MAX_AGE": "0",
                         "SIGNET_KEY_RING_RELOAD_SECONDS": "0.5"}
        sign_calls_before = _sign_calls(proxy_url)
        delegated, delegated_base = start_issuer(delegated_env)
        local, local_base = start_issuer(env)
        port = free_port()
        bare = Service("bare", [sys.executable, "-m", "uvicorn", "bench.bare_apps:app", "--port", str(port),
                                "--no-access-log", "--log-level", "warning"])
        services += [delegated, local, bare]
        bare_url = f"http://127.0.0.1:{port}"
        bare.wait_http(bare_url + "/jwks")
        tokens = _wait_for_ephemeral(delegated_base, secret)
        for base in (delegated_base, local_base, bare_url):
            warm_up(base, secret)
        tokens += 20

        rates: dict[str, list[float]] = {"delegated": [], "local": [], "bare": []}
        for _ in range(rounds):
            delegated_load = _load(delegated_base, CONCURRENCY, seconds, script)
            rates["delegated"].append(delegated_load.rps)
            tokens += delegated_load.requests
            rates["local"].append(_load(local_base, CONCURRENCY, seconds, script).rps)
            rates["bare"].append(_load(bare_url, CONCURRENCY, seconds, script).rps)
        figures.append(Figure("/token, delegated mode vs local key", "req/s", rates["delegated"],
                              rates["local"], "same issuer, local ES256 key", 0.7,
                              f"concurrency {CONCURRENCY}; KMS root on moto, ephemeral ES256 key"))
        figures.append(Figure("/token, delegated mode vs bare app", "req/s", rates["delegated"],
                              rates["bare"], "bare FastAPI + cryptography ES256", 0.7,
                              "the token endpoint's own cost (client auth, self-check, audit)"
                              " is most of the gap; see '/token, local ES256 key'"))
        signer_runs = [asyncio.run(_signer_rates(min(seconds, 2.0))) for _ in range(rounds)]
        figures.append(Figure("JwsSigner in process, delegated vs local backend", "tokens/s",
                              [d for d, _ in signer_runs], [loc for _, loc in signer_runs],
                              "JwsSigner over a local ES256 key", 0.7,
                              "sign + self-check per token, no HTTP"))
        sign_calls = _sign_calls(proxy_url) - sign_calls_before
        per_sign = tokens / max(sign_calls, 1)
        figures.append(Figure("tokens per KMS Sign call, delegated mode", "tokens/Sign", [per_sign], [1.0],
                              "kms mode: 1 Sign per token", 1000.0,
                              f"{sign_calls} Sign calls for {tokens:,} tokens since start-up (warm-up"
                              f" included) = {100_000 * sign_calls / tokens:.1f} per 100,000 tokens;"
                              " with SIGNET_DELEGATED_KEY_LIFETIME=1h: one Sign per replica per hour",
                              extra={"sign_calls": sign_calls, "tokens": tokens}))

        kms_issuer, kms_base = start_issuer(kms_env)
        services.append(kms_issuer)
        warm_up(kms_base, secret)
        httpx.post(proxy_url + "/__fault__", json={"delay_ms": 20}).raise_for_status()
        for concurrency in (1, CONCURRENCY):
            fast, slow = [], []
            for _ in range(rounds):
                fast.append(_load(delegated_base, concurrency, seconds, script).rps)
                slow.append(_load(kms_base, concurrency, seconds, script).rps)
            name = f"/token with 20 ms KMS latency, delegated vs kms, concurrency {concurrency}"
            figures.append(Figure(name, "req/s", fast, slow, "kms mode, same moto and proxy", 10.0,
                                  "expected above 10x (issue 11)"))
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
    return figures


def main() -> None:
    timed_bench_main(__doc__, run)


if __name__ == "__main__":
    main()
