"""`make bench`: every benchmark, then one table of ratios in bench/results/latest.{md,json}.

    python -m bench.run_all [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench import (
    bench_client_auth,
    bench_delegated,
    bench_issuer,
    bench_memory,
    bench_verifier,
    bench_verifier_http,
)
from bench.plots import write_plots
from bench.report import Figure, markdown_table, write_results


def verifier_figures(results: dict[str, dict[str, list[float]]]) -> list[Figure]:
    figures = []
    for alg, runs in results.items():
        paired = statistics.median(runs["distinct_ratio"])
        floor = statistics.median(runs["floor_ratio"])
        unreachable = (f"; the Python floor reaches only {floor:.2f}x raw, so"
                       f" {bench_verifier.DISTINCT_TARGET}x is out of reach of any Python verifier"
                       if floor < bench_verifier.DISTINCT_TARGET else "")
        figures += [
            Figure(f"verify distinct tokens, {alg}", "verifications/s", runs["signet"], runs["raw"],
                   "raw cryptography verify", bench_verifier.DISTINCT_TARGET,
                   f"median of per-round paired ratios: {paired:.2f}x{unreachable}"),
            Figure(f"Python floor: base64url + JSON + verify, no checks, {alg}", "verifications/s",
                   runs["floor"], runs["raw"], "raw cryptography verify",
                   notes="informational: the ceiling of any Python verifier that returns claims"),
            Figure(f"verify distinct tokens vs the Python floor, {alg}", "verifications/s",
                   runs["signet"], runs["floor"], "Python floor",
                   notes="informational: what Signet's checks and caches cost beyond the floor"),
            Figure(f"verify a repeated token, {alg}", "verifications/s", runs["repeated"], runs["raw"],
                   "raw cryptography verify", bench_verifier.REPEATED_TARGET),
            Figure(f"verify distinct tokens vs PyJWT, {alg}", "verifications/s", runs["signet"],
                   runs["pyjwt"], "PyJWT decode, cached key", 1.0),
        ]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the bench runs")
    args = parser.parse_args(argv)
    verifier_args = ["--tokens", "8", "--repeats", "50", "--rounds", "1"] if args.quick else []
    figures = verifier_figures(bench_verifier.main(verifier_args))
    figures += bench_memory.run(tokens=20_000 if args.quick else 1_000_000,
                                control=3_000 if args.quick else 20_000)
    seconds, rounds = (1.0, 1) if args.quick else (3.0, 3)
    figures += bench_verifier_http.run(seconds, rounds, tokens_per_round=10_000 if args.quick else 30_000)
    figures += bench_issuer.run(seconds=seconds, rounds=rounds)
    figures += bench_delegated.run(seconds=seconds, rounds=rounds)
    figures += bench_client_auth.run(seconds=seconds, rounds=rounds)
    # A quick run only proves the bench works: it must not replace the published table.
    name = "quick" if args.quick else "latest"
    path = write_results(figures, name=name)
    plots = write_plots(figures, prefix="quick-" if args.quick else "")
    print(f"\n{markdown_table(figures)}\n\nwritten: {path}, {path.with_suffix('.json')},"
          f" {', '.join(str(p) for p in plots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
