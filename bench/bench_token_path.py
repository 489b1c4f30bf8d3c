"""Where /token's time goes: the issuer app and the bare baseline called in process, as ASGI
callables, with the request path stubbed piece by piece.

    python -m bench.bench_token_path [--requests 1500] [--rounds 5]

No server and no sockets: `await app(scope, receive, send)` for the same POST /token
(client_secret_basic, form body, local ES256 key), timed in CPU-seconds of this thread.
Each variant stubs one more piece than the one before it, in this order, so the difference
between neighbours is what that piece costs: the signature self-check (verify before
hand-out), the audit line (written to /dev/null here), the metrics, client authentication
(a cache hit: the argon2 check is cached after a client's first token), the form parsing.
What is left is the framework (request id, request limits, the direct route), the claims,
the signing itself and the JSON answer; the bare app (bench/bare_apps.py) is beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.bench_issuer import register_client
from bench.report import Figure, print_figures

STEPS = ("full /token", "self-check stubbed", "audit line stubbed", "metrics stubbed",
         "client authentication stubbed", "form parsing stubbed")


def scope(secret: str, body: bytes) -> dict[str, Any]:
    basic = base64.b64encode(f"bench:{secret}".encode())
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/x-www-form-urlencoded"),
               (b"authorization", b"Basic " + basic), (b"content-length", str(len(body)).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/token", "raw_path": b"/token", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000)}


async def drive(app: Any, template: dict[str, Any], body: bytes, count: int) -> None:
    statuses = []
    for _ in range(count):
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(template), receive, send)
    if any(status != 200 for status in statuses):
        raise SystemExit(f"bench token path: statuses {sorted(set(statuses))}")


def timed(loop: asyncio.AbstractEventLoop, app: Any, template: dict[str, Any], body: bytes,
          count: int) -> float:
    loop.run_until_complete(drive(app, template, body, 20))  # warm
    start = time.thread_time()
    loop.run_until_complete(drive(app, template, body, count))
    return (time.thread_time() - start) / count * 1e6


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """The audit line still costs what it costs, written to /dev/null instead of the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def stub(app: Any, step: str) -> None:
    """Stub one more piece of the issuer's /token path (cumulative, in STEPS order)."""
    import app.routes.token as token_route
    from app.token import audit
    from app.token.form import TokenForm

    endpoint = app.state.token_endpoint
    if step == "self-check stubbed":
        published = app.state.keys.signing_key().published
        object.__setattr__(published, "check", lambda data, signature: True)
    elif step == "audit line stubbed":
        audit.token_issued = lambda *args, **kwargs: None  # type: ignore[assignment]
    elif step == "metrics stubbed":
        app.state.metrics.token_issued = lambda *args, **kwargs: None
    elif step == "client authentication stubbed":
        authenticate = endpoint.authenticator.authenticate
        client = asyncio.get_event_loop().run_until_complete(
            authenticate(token_route.extract_credentials(
                "Basic " + base64.b64encode(f"bench:{os.environ['BENCH_SECRET']}".encode()).decode(),
                TokenForm({"grant_type": ("client_credentials",)})), "127.0.0.1"))

        async def cached(creds: Any, source: str, facts: Any = None) -> Any:
            return client
        endpoint.authenticator.authenticate = cached
    elif step == "form parsing stubbed":
        form = TokenForm({"grant_type": ("client_credentials",)})

        async def parsed(request: Any, limit: int, headers: Any = None) -> TokenForm:
            return form
        token_route.read_token_form = parsed  # type: ignore[assignment]


def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    work = Path(tempfile.mkdtemp(prefix="signet-bench-token-path-"))
    env = {"SIGNET_LOCAL_KEY_DIR": str(work / "keys"), "SIGNET_CLIENTS_FILE": str(work / "clients.yaml"),
           "SIGNET_LOG_LEVEL": "warning", "SIGNET_ISSUER": "http://127.0.0.1:8000"}
    secret = register_client(env)
    os.environ.update(env)
    os.environ["BENCH_SECRET"] = secret
    from app.main import create_app
    from bench.bare_apps import app as bare

    body = b"grant_type=client_credentials"
    template = scope(secret, body)
    runs: dict[str, list[float]] = {}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        for _ in range(rounds):
            with quiet_stderr():
                runs.setdefault("bare", []).append(timed(loop, bare, template, body, requests))
                issuer = create_app()
                lifespan = issuer.router.lifespan_context(issuer)
                loop.run_until_complete(lifespan.__aenter__())
                try:
                    for step in STEPS:
                        if step != STEPS[0]:
                            stub(issuer, step)
                        runs.setdefault(step, []).append(timed(loop, issuer, template, body, requests))
                finally:
                    loop.run_until_complete(lifespan.__aexit__(None, None, None))
                    _restore()
    finally:
        loop.close()
    return runs


def _restore() -> None:
    import importlib

    import app.routes.token as token_route
    from app.token import audit, form

    importlib.reload(audit)
    token_route.audit = audit  # type: ignore[attr-defined]
    token_route.read_token_form = form.read_token_form  # type: ignore[attr-defined]


def run(requests: int = 1500, rounds: int = 5) -> list[Figure]:
    runs = measure(requests, rounds)
    med = {name: statistics.median(values) for name, values in runs.items()}
    costs = [f"{after}: {med[before] - med[after]:.0f} us" for before, after in itertools.pairwise(STEPS)]
    rest = med[STEPS[-1]]
    budget = med["bare"] / 0.7  # the most a request may cost for 0.7x the bare app
    self_check = med[STEPS[0]] - med[STEPS[1]]
    verdict = (f"; 0.7x allows {budget:.0f} us per request: the self-check alone takes"
               f" {self_check:.0f} us of it ({self_check / med['bare']:.2f}x the whole bare request),"
               f" leaving {budget - self_check:.0f} us for the rest, which costs"
               f" {med[STEPS[1]]:.0f} us" + (" (so 0.7x is out of reach while every token is"
                                               " verified before it is handed out)"
                                               if med[STEPS[1]] > budget - self_check else ""))
    return [
        Figure("/token in process, issuer vs bare app (rate)", "req/CPU-s",
               [1e6 / x for x in runs[STEPS[0]]], [1e6 / x for x in runs["bare"]],
               "bare FastAPI + cryptography ES256, in process", 0.7,
               f"CPU per request {med[STEPS[0]]:.0f} vs {med['bare']:.0f} us; each piece, stubbed in"
               f" turn: {'; '.join(costs)}; left with all of them stubbed {rest:.0f} us (framework,"
               f" claims, signing, JSON) against the bare app's {med['bare']:.0f} us" + verdict),
        Figure("/token in process without the self-check vs bare app (rate)", "req/CPU-s",
               [1e6 / x for x in runs[STEPS[1]]], [1e6 / x for x in runs["bare"]],
               "bare FastAPI + cryptography ES256, in process",
               notes="informational: the same path with the verify-before-hand-out stubbed, to"
                     " show what the self-check alone costs against the target"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print_figures(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
