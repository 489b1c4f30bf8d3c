"""The verifier bench runs end to end with tiny counts (no timing is asserted), so it never rots."""

from __future__ import annotations

import pytest

from bench import bench_verifier


def test_bench_verifier_runs(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench_verifier.main(["--tokens", "8", "--repeats", "50", "--rounds", "1",
                                   "--algs", "ES256,RS256", "--profile"])
    assert set(results) == {"ES256", "RS256"}
    assert all(len(rates) == 1 and rates[0] > 0 for runs in results.values() for rates in runs.values())
    table = capsys.readouterr().out
    assert "| ES256 |" in table and "| RS256 |" in table
    assert "RS256: microseconds per distinct token" in table and "signature check (cryptography)" in table


def test_bench_report_writes_the_ratio_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.report import Figure, write_results

    figures = [Figure("x", "req/s", [10.0, 12.0, 11.0], [20.0, 22.0], "bare", 0.5, "note"),
               Figure("y", "req/s", [1.0], [4.0], "bare", 0.5)]
    path = write_results(figures, directory=tmp_path)
    text = path.read_text()
    assert "| x (req/s) | 11 (10-12) | bare: 21 (20-22) | 0.52x | >= 0.5x | yes |" in text
    assert "| y (req/s) | 1 | bare: 4 | 0.25x | >= 0.5x | **no** |" in text
    import json

    data = json.loads(path.with_suffix(".json").read_text())
    assert [f["met"] for f in data["figures"]] == [True, False]
