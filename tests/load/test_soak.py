"""The soak (tests/support/soak.py) for 10 seconds: `make soak` runs it for 60.

Real parts and injected faults are listed in tests/support/soak.py. Figures are printed
(`pytest -s` shows them) so they can be quoted; only correctness is asserted, and memory
only as bounded, never a speed."""

from __future__ import annotations

from tests.support.soak import run_soak


def test_soak_10s_zero_wrong_answers_and_no_verifier_5xx() -> None:
    report = run_soak(10)
    for line in report.lines():
        print(line)
    assert report.verifier_requests > 0 and report.issuer_statuses[200] > 0
    assert report.valid_sent > 0 and report.invalid_sent > 0
    assert report.wrong_answers == 0, report.problems[:5]
    assert report.verifier_5xx == 0, report.problems[:5]
    assert report.issuer_unexpected_5xx == 0, report.issuer_statuses
    assert report.transport_errors == 0, report.problems[:5]
    assert len(report.events) == 4  # Redis killed and restarted, KMS throttling on and off
    for name, start in report.rss_start_kib.items():
        assert report.rss_end_kib[name] < start * 1.5, (name, start, report.rss_end_kib[name])
