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
