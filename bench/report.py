"""Benchmark figures as ratios against a baseline measured in the same run.

Every figure is the median of several interleaved rounds (the machine is shared and
noisy, so min-max is printed beside it). `write_results` turns the rows into
bench/results/latest.md and latest.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One comparison: Signet's rate against its baseline's, and the target ratio."""

    name: str
    unit: str
    signet: list[float]
    baseline: list[float]
    baseline_name: str
    target: float | None = None  # minimum ratio (maximum when at_most); None = informational
    notes: str = ""
    at_most: bool = False  # a cost, such as memory against a budget: lower is better
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        base = statistics.median(self.baseline)
        return statistics.median(self.signet) / base if base else float("inf")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio <= self.target if self.at_most else self.ratio >= self.target


def _span(values: list[float], digits: int = 0) -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def markdown_table(figures: list[Figure]) -> str:
    lines = ["| figure | Signet | baseline | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for f in figures:
        target = "-" if f.target is None else f"{'<=' if f.at_most else '>='} {f.target:g}x"
        met = {None: "-", True: "yes", False: "**no**"}[f.met]
        digits = {"MB": 1, "ms": 2, "us": 1}.get(f.unit, 0)
        lines.append(
            f"| {f.name} ({f.unit}) | {_span(f.signet, digits)} | {f.baseline_name}:"
            f" {_span(f.baseline, digits)}"
            f" | {f.ratio:.2f}x | {target} | {met} |"
        )
    return "\n".join(lines)


def write_results(figures: list[Figure], name: str = "latest", directory: Path = RESULTS) -> Path:
    """Write `<name>.md` and `<name>.json` under `directory`; return the markdown path."""
    directory.mkdir(exist_ok=True)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    host = f"{platform.machine()}, Python {platform.python_version()}"
    notes = [f"- {f.name}: {f.notes}" for f in figures if f.notes]
    md = (
        f"# Signet benchmarks\n\n{when} on {host}. Medians of interleaved rounds, min-max in"
        f" brackets; ratio = Signet / baseline, both measured in this run.\n\n"
        f"{markdown_table(figures)}\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")
    )
    path = directory / f"{name}.md"
    path.write_text(md)
    (directory / f"{name}.json").write_text(
        json.dumps(
            {
                "when": when,
                "host": host,
                "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in figures],
            },
            indent=2,
        )
    )
    return path


def print_figures(figures: list[Figure]) -> None:
    """The table, then each figure's notes: what a bench module prints when run alone."""
    print(markdown_table(figures))
    for f in figures:
        if f.notes:
            print(f"- {f.name}: {f.notes}")


def timed_bench_main(doc: str | None, run: Callable[[float, int], list[Figure]]) -> list[Figure]:
    """`python -m bench.X [--seconds 3] [--rounds 3]` for the benches driven by wrk."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures = run(args.seconds, args.rounds)
    print_figures(figures)
    return figures
