"""Every core: throughput with one worker process against N = all cores, and one JWKS fetch
for all workers through Redis.

    python -m bench.bench_workers [--seconds 3] [--rounds 2]

- the demo verifier service (`uvicorn app.demo:app --workers N`), GET /whoami with distinct
  ES256 tokens (wrk cycles through pre-minted tokens, more than it sends: every request
  checks a signature), its keys from a JWKS endpoint that counts its fetches, shared through
  Redis (a fresh key prefix per start): with N workers, still one fetch;
- `/token` with the local ES256 key (`signet serve --workers N`).

Target: N workers reach >= 0.8 x N times the one-worker rate. N = 1 and N = all cores run
alternately, round after round. wrk runs on the same machine, so the note gives what each
run's cores went to, from /proc: the workers, wrk, and everything else (other processes
on a shared machine): the cores the workers could have had.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.bench_issuer import Load, register_client, require_no_errors, token_script, warm_up, wrk
from bench.bench_verifier import AUDIENCE, ISSUER, make_case
from bench.bench_verifier_http import CYCLE_SCRIPT
from bench.report import Figure
from tests.support.processes import Service, free_port, start_redis

TARGET_PER_WORKER = 0.8


def cores() -> int:
    return len(os.sched_getaffinity(0))


class CountingJwks:
    """A JWKS endpoint on loopback that counts the fetches it answers."""

    def __init__(self, body: bytes) -> None:
        self.fetches = 0
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                counter.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (the workers)."""
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            pids += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            continue
    return total


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    load: Load
    seconds: float
    server_cores: float  # CPU seconds of the workers per second of the run
    wrk_cores: float
    other_cores: float


def measured(url: str, pid: int, seconds: float, script: Path, args: list[str] | None = None) -> Run:
    server, busy, own = tree_cpu(pid), machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    load = wrk(url, 8 * cores(), seconds, script, args)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cores = (tree_cpu(pid) - server) / wall
    wrk_cores = (after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime) / wall
    other = (machine_busy() - busy) / wall - server_cores - wrk_cores
    return Run(load, wall, server_cores, wrk_cores, max(0.0, other))


def figures(name: str, one: list[Run], many: list[Run], workers: int) -> list[Figure]:
    """The throughput figure (target 0.8 x N), and requests per CPU-second of the workers at
    N against 1 (informational): whether a worker does as much per core as a lone one."""
    require_no_errors([r.load for r in one + many], name)
    m = many[len(many) // 2]
    efficiency = Figure(
        f"{name}, requests per worker CPU-second, {workers} workers vs 1", "req/CPU-s",
        [r.load.rps / max(r.server_cores, 1e-9) for r in many],
        [r.load.rps / max(r.server_cores, 1e-9) for r in one], "same service, 1 worker",
        notes="informational: 1x means the workers scale with the cores they get")
    lone = statistics.median(r.server_cores for r in one)
    room = max(0.0, cores() - m.wrk_cores - m.other_cores)
    return [Figure(
        f"{name}, {workers} workers vs 1", "req/s", [r.load.rps for r in many], [r.load.rps for r in one],
        "same service, 1 worker", TARGET_PER_WORKER * workers,
        f"{cores()} cores; concurrency {8 * cores()}; in a {workers}-worker run the machine's cores"
        f" went to the workers {m.server_cores:.2f}, wrk {m.wrk_cores:.2f}, other processes"
        f" {m.other_cores:.2f} (1 worker: {lone:.2f} for the worker): the workers could use at most"
        f" {room:.2f} cores here, so the ceiling was about {room / max(0.01, lone):.2f}x"),
        efficiency]


def demo_service(jwks: CountingJwks, redis_url: str, workers: int) -> tuple[Service, str]:
    port = free_port()
    service = Service(f"demo-{workers}", [
        sys.executable, "-m", "uvicorn", "app.demo:app", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning"], {
        "SIGNET_VERIFIER_ISSUER": ISSUER, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
        "SIGNET_VERIFIER_JWKS_URL": jwks.url, "SIGNET_VERIFIER_ALGORITHMS": "ES256",
        "SIGNET_REDIS_URL": redis_url, "SIGNET_VERIFIER_REDIS_PREFIX": f"signet-bench:{uuid.uuid4().hex}:",
        "SIGNET_CACHE_INTEGRITY_KEY": "bench-integrity-key-" + uuid.uuid4().hex,
        "SIGNET_LOG_LEVEL": "warning"})
    base = f"http://127.0.0.1:{port}"
    service.wait_http(base + "/healthz")
    return service, base


def wait_ready(service: Service, url: str, timeout: float = 30.0) -> None:
    """Until every worker has started (the supervisor's spawned children answer /readyz)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for _ in range(20)):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {service.name} not ready:\n{service.output()}")


def run_demo(seconds: float, rounds: int, per_run: int) -> list[Figure]:
    workers = cores()
    runs = 2 * rounds + 2  # warm-ups included
    case = make_case("ES256", per_run * runs)
    work = Path(tempfile.mkdtemp(prefix="signet-bench-workers-"))
    (work / "cycle.lua").write_text(CYCLE_SCRIPT)
    files = []
    for r in range(runs):
        path = work / f"tokens-{r}.txt"
        path.write_text("\n".join(case.tokens[r * per_run:(r + 1) * per_run]))
        files.append(path)
    jwks = CountingJwks(case.jwks.encode())
    redis, redis_url = start_redis()
    services: list[Service] = []
    try:
        single, single_url = demo_service(jwks, redis_url, 1)
        services.append(single)
        fetches_single = jwks.fetches
        before = jwks.fetches
        multi, multi_url = demo_service(jwks, redis_url, workers)
        services.append(multi)
        wait_ready(multi, multi_url + "/readyz")
        fetches_multi = jwks.fetches - before
        one, many = [], []
        script, next_file = work / "cycle.lua", iter(files)
        for url in (single_url, multi_url):
            wrk(url + "/whoami", 8, 1, script, [str(next(next_file))])
        for _ in range(rounds):
            for url, pid, into in ((single_url, single.process.pid, one),
                                   (multi_url, multi.process.pid, many)):
                run = measured(url + "/whoami", pid, seconds, script, [str(next(next_file))])
                if run.load.requests > per_run:
                    raise SystemExit(f"bench workers: {run.load.requests} requests, {per_run} tokens")
                into.append(run)
    finally:
        for service in services:
            service.stop()
        redis.stop()
        jwks.stop()
    return [
        *figures("demo verifier service, distinct ES256 tokens", one, many, workers),
        Figure(f"JWKS fetches for {workers} workers sharing Redis", "fetches", [float(fetches_multi)],
               [1.0], "one fetch", 1.0, f"counted at the JWKS endpoint; 1 worker: {fetches_single}"
               f" fetch, then {workers} workers on a fresh Redis prefix: {fetches_multi}", at_most=True),
    ]


def issuer_service(env: dict[str, str], workers: int) -> tuple[Service, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = Service(f"issuer-{workers}", [sys.executable, "-m", "app", "serve", "--workers", str(workers)],
                      {**env, "SIGNET_PORT": str(port), "SIGNET_ISSUER": base})
    service.wait_http(base + "/healthz")
    return service, base


def run_token(seconds: float, rounds: int) -> list[Figure]:
    workers = cores()
    work = Path(tempfile.mkdtemp(prefix="signet-bench-workers-token-"))
    env = {"SIGNET_LOCAL_KEY_DIR": str(work / "keys"), "SIGNET_CLIENTS_FILE": str(work / "clients.yaml"),
           "SIGNET_LOG_LEVEL": "warning"}
    secret = register_client(env)
    script = token_script(work, "bench", secret)
    services: list[Service] = []
    try:
        single, single_base = issuer_service(env, 1)
        services.append(single)
        multi, multi_base = issuer_service(env, workers)
        services.append(multi)
        wait_ready(multi, multi_base + "/readyz")
        for base in (single_base, multi_base):
            for _ in range(workers):  # each worker checks the client secret once (argon2)
                warm_up(base, secret)
        one, many = [], []
        for _ in range(rounds):
            one.append(measured(single_base + "/token", single.process.pid, seconds, script))
            many.append(measured(multi_base + "/token", multi.process.pid, seconds, script))
    finally:
        for service in services:
            service.stop()
    return figures("/token, local ES256 key", one, many, workers)


def run(seconds: float, rounds: int, tokens_per_run: int = 40_000) -> list[Figure]:
    return run_demo(seconds, rounds, tokens_per_run) + run_token(seconds, rounds)


def main() -> None:
    from bench.report import timed_bench_main

    timed_bench_main(__doc__, run)


if __name__ == "__main__":
    main()
