"""PNG plots of a bench run, beside its table in bench/results/.

- throughput.png: /token req/s against concurrency with 20 ms of KMS latency, and the
  direct aioboto3 Sign rate through the same delaying proxy: how far the issuer follows KMS;
- latency.png: p50 and p99 of every wrk comparison, Signet beside its baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from bench.report import RESULTS, Figure


def throughput_plot(figures: list[Figure], path: Path) -> Path | None:
    levels = next((f.extra for f in figures if "levels" in f.extra), None)
    if levels is None:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for key, label in (("levels", "/token (Signet, KMS backend)"),
                       ("direct_levels", "aioboto3 Sign, direct")):
        series: dict[Any, Any] = levels.get(key, {})  # type: ignore[assignment]
        if series:
            xs = sorted(int(c) for c in series)
            ax.plot(xs, [series[c]["rps"] if c in series else series[str(c)]["rps"] for c in xs],
                    marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("requests/s")
    ax.set_title("Throughput vs concurrency, 20 ms injected KMS latency (moto)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latency_rows(figures: list[Figure]) -> dict[str, Figure]:
    """One figure per plotted run, by label: the p50 and p99 rows of one run share theirs."""
    rows: dict[str, Figure] = {}
    for f in figures:
        if "signet_latency" in f.extra:
            rows.setdefault(str(f.extra.get("plot_label", f.name)), f)
    return rows


def latency_plot(figures: list[Figure], path: Path) -> Path | None:
    rows = latency_rows(figures)
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.0, 0.9 + 0.9 * len(rows)))
    labels, bars = [], []
    for label, f in rows.items():
        for side in ("signet", "baseline"):
            loads: list[dict[str, float]] = f.extra[f"{side}_latency"]  # type: ignore[assignment]
            p50 = sorted(x["p50_ms"] for x in loads)[len(loads) // 2]
            p99 = sorted(x["p99_ms"] for x in loads)[len(loads) // 2]
            labels.append(f"{label}: {'Signet' if side == 'signet' else 'baseline'}")
            bars.append((p50, p99))
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], [b[1] for b in bars], height=0.4, label="p99", color="#d62728")
    ax.barh([y - 0.2 for y in ys], [b[0] for b in bars], height=0.4, label="p50", color="#1f77b4")
    ax.set_yticks(list(ys), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale; median round)")
    ax.set_title("Latency under wrk: Signet beside its baseline", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_plots(figures: list[Figure], prefix: str = "", directory: Path = RESULTS) -> list[Path]:
    """Write throughput.png and latency.png (names prefixed with `prefix`); return what was written."""
    directory.mkdir(exist_ok=True)
    written = [throughput_plot(figures, directory / f"{prefix}throughput.png"),
               latency_plot(figures, directory / f"{prefix}latency.png")]
    return [p for p in written if p is not None]
