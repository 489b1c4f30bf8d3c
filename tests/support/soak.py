"""Soak: the whole system under steady load while its dependencies misbehave.

Real: moto's KMS server, the issuer (KMS key, uvicorn), two demo verifier services
(app.demo, uvicorn), a redis-server shared by all three. Injected: a KMS throttling
burst (tests/support/fault_proxy.py answers ThrottlingException to every Sign) and a
Redis SIGKILL + restart, empty, both in the middle of the run.

Load: one thread asks the issuer for tokens; the others send the verifiers a mix of valid
tokens and invalid ones (bad signature, wrong audience, `alg: none`, garbage). A wrong
answer is a valid token refused or an invalid one accepted. Verifiers must never answer
5xx; the issuer may answer 503 during the KMS burst (counted), never another 5xx.

`make soak` runs 60 s: python -m tests.support.soak --seconds 60
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import (
    Service,
    moto_kms_client,
    start_demo,
    start_fault_proxy,
    start_issuer,
    start_moto,
)
from tests.support.redis_servers import RedisServer
from tests.support.tokens import add_client

AUDIENCE = "api://demo"
VERIFIER_THREADS = 3


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def alg_none(token: str) -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    return header.rstrip(b"=").decode() + "." + token.split(".")[1] + "."


def tampered(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return f"{head}.{body}.{flipped}"


@dataclass
class SoakReport:
    seconds: float
    verifier_requests: int = 0
    valid_sent: int = 0
    invalid_sent: int = 0
    wrong_answers: int = 0
    verifier_5xx: int = 0
    issuer_requests: int = 0
    issuer_statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    rss_start_kib: dict[str, int] = field(default_factory=dict)
    rss_end_kib: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def issuer_unexpected_5xx(self) -> int:
        return sum(n for status, n in self.issuer_statuses.items() if status >= 500 and status != 503)

    def lines(self) -> list[str]:
        rss = ", ".join(f"{name} {start // 1024}->{self.rss_end_kib.get(name, 0) // 1024} MiB"
                        for name, start in self.rss_start_kib.items())
        return [
            f"soak: {self.seconds:.0f} s; events: {'; '.join(self.events)}",
            f"soak: verifier requests {self.verifier_requests} (valid {self.valid_sent},"
            f" invalid {self.invalid_sent}); wrong answers {self.wrong_answers};"
            f" verifier 5xx {self.verifier_5xx}; transport errors {self.transport_errors}",
            f"soak: issuer /token requests {self.issuer_requests}: "
            + ", ".join(f"{status}: {n}" for status, n in sorted(self.issuer_statuses.items())),
            f"soak: RSS start->end: {rss}",
            *(f"soak: problem: {problem}" for problem in self.problems[:10]),
        ]


class Soak:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.report = SoakReport(seconds)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.valid: list[str] = []
        self.invalid: list[str] = []
        self.services: list[Service] = []

    # -- set-up --------------------------------------------------------------------------

    def start(self, workdir: Path) -> None:
        moto, moto_url = start_moto()
        self.services.append(moto)
        proxy, self.kms_proxy = start_fault_proxy(moto_url)
        self.services.append(proxy)
        kms = moto_kms_client(moto_url)
        key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        self.redis = RedisServer().start()
        env = {"SIGNET_CLIENTS_FILE": str(workdir / "clients.yaml")}
        self.secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
        other = add_client(env, "other", "--scope", "read", "--audience", "api://other") or ""
        self.issuer, self.base = start_issuer({
            **env, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_KEY_ID": key_id,
            "SIGNET_KMS_ENDPOINT_URL": self.kms_proxy, "SIGNET_KMS_REGION": "us-east-1",
            "SIGNET_KMS_TIMEOUT_SECONDS": "1", "SIGNET_KMS_DEADLINE_SECONDS": "2",
            "SIGNET_REDIS_URL": self.redis.url, "SIGNET_JWKS_MAX_AGE": "2", "SIGNET_LOG_LEVEL": "warning"})
        self.services.append(self.issuer)
        verifier_env = {"SIGNET_VERIFIER_ISSUER": self.base, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
                        "SIGNET_REDIS_URL": self.redis.url, "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "2",
                        "SIGNET_VERIFIER_HTTP_TIMEOUT_SECONDS": "1", "SIGNET_LOG_LEVEL": "warning"}
        self.demos = [start_demo(verifier_env) for _ in range(2)]
        self.services.extend(service for service, _ in self.demos)
        with httpx.Client(timeout=30) as client:
            for _ in range(5):
                self.valid.append(self._token(client, "svc", self.secret))
            wrong_audience = self._token(client, "other", other)
        sample = self.valid[0]
        self.invalid = [tampered(sample), wrong_audience, alg_none(sample), "not.a.token", sample[:-10]]

    def _token(self, client: httpx.Client, client_id: str, secret: str) -> str:
        response = client.post(self.base + "/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret))
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis.stop()

    # -- load ----------------------------------------------------------------------------

    def _issuer_load(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(self.base + "/token", data={"grant_type": "client_credentials"},
                                           auth=("svc", self.secret))
                except httpx.HTTPError as exc:
                    self._problem(f"issuer transport error {type(exc).__name__}")
                    continue
                with self.lock:
                    self.report.issuer_requests += 1
                    self.report.issuer_statuses[response.status_code] += 1
                    if response.status_code == 200:
                        self.valid.append(response.json()["access_token"])
                        del self.valid[:-50]
                time.sleep(0.02)

    def _verifier_load(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                _, demo = rng.choice(self.demos)
                with self.lock:
                    is_valid = rng.random() < 0.7
                    token = rng.choice(self.valid if is_valid else self.invalid)
                try:
                    response = client.get(demo + "/whoami", headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError as exc:
                    self._problem(f"verifier transport error {type(exc).__name__}")
                    continue
                with self.lock:
                    report = self.report
                    report.verifier_requests += 1
                    report.valid_sent += is_valid
                    report.invalid_sent += not is_valid
                    if response.status_code >= 500:
                        report.verifier_5xx += 1
                        report.problems.append(f"verifier {response.status_code}: {response.text[:120]}")
                    elif (response.status_code == 200) != is_valid:
                        report.wrong_answers += 1
                        report.problems.append(f"wrong answer {response.status_code} for a"
                                               f" {'valid' if is_valid else 'invalid'} token")

    def _problem(self, text: str) -> None:
        with self.lock:
            self.report.transport_errors += 1
            self.report.problems.append(text)

    # -- faults --------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        with self.lock:
            self.report.events.append(f"{time.monotonic() - self.t0:.1f}s {text}")

    def _faults(self) -> None:
        third = self.seconds / 3
        if self.stop.wait(third):
            return
        self.redis.kill()
        self._event("redis SIGKILL")
        if self.stop.wait(min(2.0, third / 4)):
            return
        self.redis.start()
        self._event("redis restarted empty")
        if self.stop.wait(third / 2):
            return
        httpx.post(self.kms_proxy + "/__fault__", json={"fault": "throttle", "operations": ["Sign"]})
        self._event("KMS throttling on")
        self.stop.wait(min(3.0, third / 2))
        httpx.post(self.kms_proxy + "/__fault__", json={"fault": "none"})
        self._event("KMS throttling off")

    # -- the run -------------------------------------------------------------------------

    def run(self) -> SoakReport:
        pids = {"issuer": self.issuer.process.pid,
                **{f"verifier{i + 1}": service.process.pid for i, (service, _) in enumerate(self.demos)}}
        threads = [threading.Thread(target=self._issuer_load)]
        threads += [threading.Thread(target=self._verifier_load, args=(i,)) for i in range(VERIFIER_THREADS)]
        self.t0 = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(min(2.0, self.seconds / 10))  # warm: first imports and caches filled
        self.report.rss_start_kib = {name: rss_kib(pid) for name, pid in pids.items()}
        faults = threading.Thread(target=self._faults)
        faults.start()
        self.stop.wait(self.seconds)
        self.report.rss_end_kib = {name: rss_kib(pid) for name, pid in pids.items()}
        self.stop.set()
        for thread in [*threads, faults]:
            thread.join(60)
        return self.report


def run_soak(seconds: float) -> SoakReport:
    soak = Soak(seconds)
    try:
        with tempfile.TemporaryDirectory(prefix="signet-soak-") as workdir:
            soak.start(Path(workdir))
            report = soak.run()
    finally:
        soak.stop_all()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="Signet soak test")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    report = run_soak(args.seconds)
    for line in report.lines():
        print(line, flush=True)
    bad = report.wrong_answers or report.verifier_5xx or report.issuer_unexpected_5xx
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
