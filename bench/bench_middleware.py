"""Where the middleware's time goes: the apps of the over-HTTP bench called in process, as
ASGI callables, with the request path stubbed piece by piece.

    python -m bench.bench_middleware [--requests 4000] [--rounds 7]

No server and no sockets: each variant is `await app(scope, receive, send)` over the same
pre-built scopes (the raw header list uvicorn would pass), timed in CPU-seconds of this
thread, all variants interleaved round by round; figures are medians of per-round
differences against the unprotected app, in microseconds per request:
- middleware, repeated token: header scan, verified-token cache hit, claims into the scope;
- middleware, verify stubbed (returns fixed claims): the middleware's own plumbing alone;
- middleware, distinct ES256 tokens: every request a cache miss that checks a signature;
- verify_sync alone over the same distinct tokens, and raw `cryptography` verify alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from bench.bench_verifier import make_case, new_verifier
from bench.report import Figure, print_figures
from bench.verifier_apps import hello
from signet.verifier import SignetAuthMiddleware, Verifier

REPEATED_BUDGET_US, DISTINCT_BUDGET_US = 10.0, 10.0


def scope_for(token: str) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*"),
               (b"authorization", b"Bearer " + token.encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/hello", "raw_path": b"/hello", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000)}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def protected_app(verifier: Verifier) -> Starlette:
    app = Starlette(routes=[Route("/hello", hello)])
    app.add_middleware(SignetAuthMiddleware, verifier=verifier, manage_lifespan=False)
    return app


def per_request_us(app: Any, scopes: list[dict[str, Any]], warm: list[dict[str, Any]]) -> float:
    """CPU microseconds per request over `scopes`, after `warm` (untimed: the event loop's
    start-up, Starlette's middleware stack built on the first call, code paths hot)."""
    async def loop(todo: list[dict[str, Any]]) -> None:
        for scope in todo:
            await app(dict(scope), _receive, _send)  # a fresh scope dict, as the server gives

    runner = asyncio.Runner()
    try:
        runner.run(loop(warm))
        start = time.thread_time()
        runner.run(loop(scopes))
        return (time.thread_time() - start) / len(scopes) * 1e6
    finally:
        runner.close()


def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    case = make_case("ES256", requests * (rounds + 1))
    repeated = [scope_for(case.tokens[0])] * requests
    stub_claims = new_verifier(case).verify_sync(case.tokens[0])
    unprotected = Starlette(routes=[Route("/hello", hello)])
    warm = repeated[:200]
    runs: dict[str, list[float]] = {}
    for r in range(rounds):
        chunk = case.tokens[(r + 1) * requests:(r + 2) * requests]
        distinct = [scope_for(t) for t in chunk]
        stubbed = new_verifier(case)

        async def fixed(token: str) -> Any:
            return stub_claims
        stubbed.verify = fixed  # type: ignore[method-assign]
        # Warmed on the repeated token: the distinct ones then each miss the token cache.
        variants: dict[str, Callable[[], float]] = {
            "unprotected": lambda: per_request_us(unprotected, repeated, warm),
            "repeated": lambda: per_request_us(protected_app(new_verifier(case)), repeated, warm),
            "stubbed": lambda s=stubbed: per_request_us(protected_app(s), repeated, warm),
            "distinct": lambda d=distinct: per_request_us(protected_app(new_verifier(case)), d, warm),
            "verify_sync": lambda c=chunk: _verify_sync_us(case, c),
            "raw": lambda: _raw_us(case, requests),
        }
        for name, run in variants.items():
            runs.setdefault(name, []).append(run())
        base = runs["unprotected"][-1]
        for name in ("repeated", "stubbed", "distinct"):
            runs.setdefault(f"{name}_added", []).append(runs[name][-1] - base)
        runs.setdefault("distinct_beyond_raw", []).append(runs["distinct"][-1] - base - runs["raw"][-1])
    return runs


def _verify_sync_us(case: Any, tokens: list[str]) -> float:
    verify = new_verifier(case).verify_sync
    start = time.thread_time()
    for token in tokens:
        verify(token)
    return (time.thread_time() - start) / len(tokens) * 1e6


def _raw_us(case: Any, count: int) -> float:
    inputs = (case.raw_inputs * (count // len(case.raw_inputs) + 1))[:count]
    verify = case.raw_verify
    start = time.thread_time()
    for data, signature in inputs:
        verify(data, signature)
    return (time.thread_time() - start) / count * 1e6


def run(requests: int = 4000, rounds: int = 7) -> list[Figure]:
    runs = measure(requests, rounds)
    med = {name: statistics.median(values) for name, values in runs.items()}
    raw = med["raw"]
    return [
        Figure("middleware in process, added CPU per request, repeated token", "us",
               runs["repeated_added"], [REPEATED_BUDGET_US], "budget", 1.0,
               f"unprotected app {med['unprotected']:.1f} us, protected {med['repeated']:.1f} us per"
               f" request; of the added time, the middleware's plumbing with verify stubbed:"
               f" {med['stubbed_added']:.1f} us", at_most=True),
        Figure("middleware in process, added CPU per request beyond one raw verify, distinct ES256"
               " tokens", "us", runs["distinct_beyond_raw"], [DISTINCT_BUDGET_US], "budget", 1.0,
               f"added {med['distinct_added']:.1f} us per request; one raw ES256 verify {raw:.1f} us;"
               f" verify_sync alone {med['verify_sync']:.1f} us (so the verifier's own work beyond"
               f" the signature is {med['verify_sync'] - raw:.1f} us, the middleware's plumbing"
               f" {med['stubbed_added']:.1f} us)", at_most=True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    figures = run(args.requests, args.rounds)
    print_figures(figures)


if __name__ == "__main__":
    main()
