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
    bench_middleware,
    bench_token_path,
    bench_verifier,
    bench_verifier_http,
    bench_workers,
)
from bench.plots import write_plots
from bench.report import Figure, markdown_table, write_results


def verifier_figures(results: dict[str, dict[str, list[float]]]) -> list[Figure]:
    figures = []
    for alg, runs in results.items():
        paired = statistics.median(runs["signet_floor_ratio"])
        figures += [
            Figure(f"verify distinct tokens vs the Python floor, {alg}", "verifications/s",
                   runs["signet"], runs["floor"], "Python floor: base64url + JSON + verify, no checks",
                   bench_verifier.FLOOR_TARGET,
                   f"median of per-round paired ratios: {paired:.2f}x; the floor is the least any"
                   " Python verifier returning claims must do (bench/bench_verifier.py)"),
            Figure(f"verify distinct tokens, {alg}", "verifications/s", runs["signet"], runs["raw"],
                   "raw cryptography verify", notes="informational: the signature alone as the"
                   f" baseline; median of per-round paired ratios:"
                   f" {statistics.median(runs['distinct_ratio']):.2f}x"),
            Figure(f"Python floor vs raw verify, {alg}", "verifications/s",
                   runs["floor"], runs["raw"], "raw cryptography verify",
                   notes="informational: what decoding a token costs any Python verifier"),
            Figure(f"verify a repeated token, {alg}", "verifications/s", runs["repeated"], runs["raw"],
                   "raw cryptography verify", bench_verifier.REPEATED_TARGET),
        ]
        for key in runs:
            if not key.startswith("peer:") or key.endswith("_ratio") or key == "peer:signet":
                continue
            name = key[5:]
            figures.append(Figure(
                f"verify distinct tokens vs {name}, {alg}", "verifications/s", runs["peer:signet"],
                runs[key], f"{name}, cached key, same checks", 1.0,
                f"median of per-round paired ratios: {statistics.median(runs[key + '_ratio']):.2f}x;"
                " the peer refused a bad signature, issuer, audience and exp before timing"))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the bench runs")
    args = parser.parse_args(argv)
    verifier_args = (["--tokens", "8", "--repeats", "50", "--rounds", "1", "--peer-rounds", "1"]
                     if args.quick else [])
    figures = verifier_figures(bench_verifier.main(verifier_args))
    figures += bench_memory.run(tokens=20_000 if args.quick else 1_000_000,
                                control=3_000 if args.quick else 20_000)
    seconds, rounds = (1.0, 1) if args.quick else (3.0, 3)
    figures += bench_middleware.run(requests=500 if args.quick else 4000, rounds=1 if args.quick else 7)
    figures += bench_verifier_http.run(seconds, rounds, tokens_per_round=10_000 if args.quick else 30_000)
    figures += bench_issuer.run(seconds=seconds, rounds=rounds)
    figures += bench_token_path.run(requests=200 if args.quick else 1500, rounds=1 if args.quick else 5)
    figures += bench_delegated.run(seconds=seconds, rounds=rounds)
    figures += bench_workers.run(seconds=seconds, rounds=2 if not args.quick else 1,
                                 tokens_per_run=40_000 if not args.quick else 15_000)
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
