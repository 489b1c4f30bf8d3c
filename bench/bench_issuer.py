"""Issuer throughput over HTTP, each figure against a baseline measured in the same run.

    python -m bench.bench_issuer [--seconds 3] [--rounds 3] [--quick]

- /token, local ES256 key, vs bench/bare_apps.py doing the same ES256 signing with
  `cryptography` and nothing else (target >= 0.7x);
- /token, KMS backend (moto), vs direct aioboto3 Sign calls to the same moto at the same
  concurrency (target >= 0.8x);
- /token with 20 ms of KMS latency injected by tests/support/fault_proxy.py, at
  concurrency 1, 8, 32, 64 (target: 32 reaches >= 20x the rate of 1);
- GET /.well-known/jwks.json vs a bare endpoint returning the same bytes (target >= 0.9x).

Load comes from wrk (Debian package `wrk`) in a separate process; both sides of a
comparison run alternately, round after round, so drifting machine load hits both.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aioboto3
import boto3
import httpx

from bench.report import Figure
from tests.support.processes import (
    MOTO_CREDENTIALS,
    ROOT,
    Service,
    free_port,
    start_fault_proxy,
    start_issuer,
    start_moto,
)

CONCURRENCY = 8
LATENCY_LEVELS = (1, 8, 32, 64)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    server_cpu_us: float | None = None  # CPU the server process spent per request


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, concurrency: int, seconds: float, script: Path | None = None,
        script_args: list[str] | None = None, server_pid: int | None = None) -> Load:
    """One wrk run. With `server_pid`, also the server's CPU time per request: unlike req/s,
    it does not depend on how much of the machine other processes took meanwhile."""
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]

    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(match[1]) * _UNITS[match[2]] if match else float("nan")

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad[1]) if bad else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    found = re.search(r"(\d+) requests in", out)
    requests = int(found[1]) if found else 0
    cpu_us = None
    if server_pid and requests:
        cpu_us = (cpu_seconds(server_pid) - cpu_before) / requests * 1e6
    return Load(rps, percentile("50"), percentile("99"), errors, requests, cpu_us)


def token_script(directory: Path, client_id: str, secret: str) -> Path:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    path = directory / "token.lua"
    path.write_text(
        'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n'
    )
    return path


def register_client(env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "clients",
            "add",
            "bench",
            "--scope",
            "read",
            "--audience",
            "api://bench",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    ).stdout
    return str(json.loads(out)["client_secret"])


def warm_up(base: str, secret: str) -> None:
    """One request first: the argon2 check of the client secret is then cached, as it is
    for any client after its first token, and code paths are hot."""
    with httpx.Client(timeout=60) as client:
        for _ in range(20):
            client.post(
                base + "/token", data={"grant_type": "client_credentials"}, auth=("bench", secret)
            ).raise_for_status()


def alternate(
    rounds: int, signet: Callable[[], Load], baseline: Callable[[], Load]
) -> tuple[list[Load], list[Load]]:
    a, b = [], []
    for _ in range(rounds):
        a.append(signet())
        b.append(baseline())
    return a, b


def compare(name: str, signet_url: str, baseline_url: str, baseline_name: str, target: float,
            rounds: int, seconds: float, script: Path | None = None,
            pids: tuple[int, int] | None = None) -> Figure:
    """wrk against Signet and its baseline in alternating rounds, as one ratio figure."""
    signet_pid, baseline_pid = pids or (None, None)
    signet, baseline = alternate(
        rounds, lambda: wrk(signet_url, CONCURRENCY, seconds, script, server_pid=signet_pid),
        lambda: wrk(baseline_url, CONCURRENCY, seconds, script, server_pid=baseline_pid))
    require_no_errors(signet + baseline, name)
    return Figure(name, "req/s", [x.rps for x in signet], [x.rps for x in baseline], baseline_name,
                  target, f"concurrency {CONCURRENCY}; p50/p99 {signet[0].p50_ms:.1f}/"
                  f"{signet[0].p99_ms:.1f} ms vs {baseline[0].p50_ms:.1f}/{baseline[0].p99_ms:.1f} ms"
                  + cpu_note(signet, baseline),
                  extra={"signet_latency": [vars(x) for x in signet],
                         "baseline_latency": [vars(x) for x in baseline]})


LOAD_LEVELS = (1, 8, 64)


def latency_figures(name: str, signet_url: str, baseline_url: str, baseline_name: str,
                    seconds: float, script: Callable[[], tuple[Path | None, list[str] | None]],
                    pids: tuple[int, int]) -> list[Figure]:
    """p50 and p99 at each of LOAD_LEVELS concurrent connections, Signet then its baseline
    at each level: two informational rows per level (lower is better), from the same runs.
    `script` gives the wrk script and its arguments for one run (a fresh token list, say)."""
    figures = []
    for level in LOAD_LEVELS:
        signet_script, signet_args = script()
        signet = wrk(signet_url, level, seconds, signet_script, signet_args, server_pid=pids[0])
        baseline_script, baseline_args = script()
        baseline = wrk(baseline_url, level, seconds, baseline_script, baseline_args, server_pid=pids[1])
        require_no_errors([signet, baseline], f"{name} at concurrency {level}")
        # Both rows carry the runs; the latency plot draws one pair of bars per plot_label.
        extra: dict[str, object] = {"signet_latency": [vars(signet)], "baseline_latency": [vars(baseline)],
                                    "plot_label": f"{name}, concurrency {level}"}
        figures.append(Figure(
            f"{name}, p50 latency at concurrency {level}", "ms", [signet.p50_ms], [baseline.p50_ms],
            baseline_name, notes="informational; the same runs as the p99 row below", at_most=True,
            extra=extra))
        figures.append(Figure(
            f"{name}, p99 latency at concurrency {level}", "ms", [signet.p99_ms], [baseline.p99_ms],
            baseline_name, notes=f"informational; {signet.rps:,.0f} vs {baseline.rps:,.0f} req/s"
            + cpu_note([signet], [baseline]),
            at_most=True, extra=extra))
    return figures


def cpu_note(signet: list[Load], baseline: list[Load]) -> str:
    """Server CPU per request, medians over rounds, and their ratio (baseline / Signet)."""
    a_all = [x.server_cpu_us for x in signet if x.server_cpu_us]
    b_all = [x.server_cpu_us for x in baseline if x.server_cpu_us]
    if not (a_all and b_all):
        return ""
    a, b = statistics.median(a_all), statistics.median(b_all)
    return f"; server CPU per request {a:.0f} vs {b:.0f} us ({b / a:.2f}x)"


def require_no_errors(loads: list[Load], what: str) -> None:
    """A run with failed requests measured something else than the figure claims."""
    if any(load.errors for load in loads):
        raise SystemExit(f"{what}: {sum(x.errors for x in loads)} failed requests; figures invalid")


async def direct_kms_rate(endpoint: str, key_id: str, concurrency: int, seconds: float) -> float:
    """aioboto3 Sign (MessageType=DIGEST) at `concurrency`, nothing else: the KMS floor."""
    import hashlib

    session = aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    from botocore.config import Config

    async with session.client(
        "kms", endpoint_url=endpoint, config=Config(max_pool_connections=concurrency)
    ) as kms:
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < deadline:
                digest = hashlib.sha256(b"bench %d %d" % (i, n)).digest()
                await kms.sign(
                    KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
                )
                n += 1
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done / (time.perf_counter() - start)


def run(seconds: float, rounds: int) -> list[Figure]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk not found (apt-get install wrk)")
    figures: list[Figure] = []
    work = Path(tempfile.mkdtemp(prefix="signet-bench-"))
    services: list[Service] = []
    try:
        env = {
            "SIGNET_LOCAL_KEY_DIR": str(work / "keys"),
            "SIGNET_CLIENTS_FILE": str(work / "clients.yaml"),
            "SIGNET_LOG_LEVEL": "warning",
        }
        secret = register_client(env)
        script = token_script(work, "bench", secret)
        issuer, base = start_issuer(env)
        services.append(issuer)
        jwks_body = httpx.get(base + "/.well-known/jwks.json").text
        port = free_port()
        bare = Service(
            "bare",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_apps:app",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            {"BENCH_JWKS_BODY": jwks_body},
        )
        services.append(bare)
        bare_url = f"http://127.0.0.1:{port}"
        bare.wait_http(bare_url + "/jwks")
        warm_up(base, secret)
        warm_up(bare_url, secret)

        figures.append(compare(
            "/token, local ES256 key", base + "/token", bare_url + "/token",
            "bare FastAPI + cryptography ES256", 0.7, rounds, seconds, script,
            (issuer.process.pid, bare.process.pid)))
        figures += latency_figures(
            "/token, local ES256 key", base + "/token", bare_url + "/token",
            "bare FastAPI + cryptography ES256", max(1.0, seconds / 2), lambda: (script, None),
            (issuer.process.pid, bare.process.pid))
        figures.append(compare(
            "GET /.well-known/jwks.json", base + "/.well-known/jwks.json", bare_url + "/jwks",
            "bare endpoint, same bytes", 0.9, rounds, seconds, pids=(issuer.process.pid, bare.process.pid)))
        issuer.stop()
        services.remove(issuer)

        moto, moto_url = start_moto()
        services.append(moto)
        kms = boto3.client(
            "kms",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        kms_env = {
            **env,
            **MOTO_CREDENTIALS,
            "SIGNET_KEY_BACKEND": "kms",
            "SIGNET_KMS_KEY_ID": key_id,
            "SIGNET_KMS_REGION": "us-east-1",
            "SIGNET_KMS_ENDPOINT_URL": moto_url,
        }
        kms_issuer, kms_base = start_issuer(kms_env)
        services.append(kms_issuer)
        warm_up(kms_base, secret)
        signet_kms, direct = [], []
        for _ in range(rounds):
            load = wrk(kms_base + "/token", CONCURRENCY, seconds, script)
            require_no_errors([load], "/token kms")
            signet_kms.append(load.rps)
            direct.append(asyncio.run(direct_kms_rate(moto_url, key_id, CONCURRENCY, seconds)))
        figures.append(
            Figure(
                "/token, KMS backend (moto)",
                "req/s",
                signet_kms,
                direct,
                "aioboto3 Sign to the same moto",
                0.8,
                f"concurrency {CONCURRENCY}",
            )
        )
        kms_issuer.stop()
        services.remove(kms_issuer)

        proxy, proxy_url = start_fault_proxy(moto_url)
        services.append(proxy)
        httpx.post(proxy_url + "/__fault__", json={"delay_ms": 20}).raise_for_status()
        slow_issuer, slow_base = start_issuer({**kms_env, "SIGNET_KMS_ENDPOINT_URL": proxy_url})
        services.append(slow_issuer)
        warm_up(slow_base, secret)
        levels = {c: wrk(slow_base + "/token", c, seconds, script) for c in LATENCY_LEVELS}
        require_no_errors(list(levels.values()), "/token with 20 ms KMS")
        # The same moto through the same 20 ms proxy, Signet left out: what KMS itself allows.
        direct_levels = {c: asyncio.run(direct_kms_rate(proxy_url, key_id, c, seconds))
                         for c in LATENCY_LEVELS}
        figures.append(
            Figure(
                "/token with 20 ms KMS latency, concurrency 32 vs 1",
                "req/s",
                [levels[32].rps],
                [levels[1].rps],
                "same issuer at concurrency 1",
                20.0,
                "rates by concurrency: "
                + ", ".join(
                    f"{c}: {load.rps:.0f} req/s (p50 {load.p50_ms:.0f} ms, p99 {load.p99_ms:.0f} ms)"
                    for c, load in levels.items()
                )
                + "; direct aioboto3 Sign through the same proxy: "
                + ", ".join(f"{c}: {rps:.0f}/s" for c, rps in direct_levels.items())
                + f" ({direct_levels[32] / direct_levels[1]:.1f}x at 32 vs 1)",
                extra={"levels": {c: vars(load) for c, load in levels.items()},
                       "direct_levels": {c: {"rps": rps} for c, rps in direct_levels.items()}},
            )
        )
        figures.append(Figure(
            "/token with 20 ms KMS latency vs direct aioboto3 Sign, concurrency 32", "req/s",
            [levels[32].rps], [direct_levels[32]], "aioboto3 Sign through the same proxy", None,
            "informational: how much of the KMS ceiling (moto behind the delay) the issuer reaches"))
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
    return figures


def main() -> None:
    from bench.report import timed_bench_main

    figures = timed_bench_main(__doc__, run)
    json.dump([{"name": f.name, "ratio": f.ratio} for f in figures], sys.stdout)
    print()


if __name__ == "__main__":
    main()
