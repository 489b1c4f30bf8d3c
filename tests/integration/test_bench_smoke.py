"""The verifier bench runs end to end with tiny counts (no timing is asserted), so it never rots."""

from __future__ import annotations

import pytest

from bench import bench_verifier


def test_bench_verifier_runs(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench_verifier.main(["--tokens", "8", "--repeats", "50", "--rounds", "1",
                                   "--peer-rounds", "1", "--algs", "ES256,EdDSA,RS256", "--profile"])
    assert set(results) == {"ES256", "EdDSA", "RS256"}
    assert all(len(rates) == 1 and rates[0] > 0 for runs in results.values() for rates in runs.values())
    table = capsys.readouterr().out
    assert "| ES256 |" in table and "| RS256 |" in table and "| EdDSA |" in table
    assert "RS256: microseconds per distinct token" in table and "signature check (cryptography)" in table
    assert "| floor/s | floor/raw |" in table
    for peer in ("PyJWT", "joserfc", "authlib", "jwcrypto", "python-jose"):
        assert f"peer:{peer}" in results["RS256"], peer
        assert f" {peer} " in table


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_bench_peers_refuse_what_signet_refuses(alg: str) -> None:
    """A peer is timed only once it refused a bad signature, issuer, audience and exp; one
    that accepts any of them (here: a verify that checks nothing) stops the bench."""
    case = bench_verifier.make_case(alg, 2)
    built = bench_verifier.peer_verifiers(case)
    assert set(built) >= {"PyJWT", "joserfc", "authlib", "jwcrypto"}
    assert ("python-jose" in built) == (alg == "ES256")  # python-jose has no PS256
    from bench import peers

    with pytest.raises(SystemExit, match="accepted a token with a bad signature"):
        peers.prove("lax", lambda token: {"sub": "x"}, case.tokens[0], case.bad)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_bench_floor_really_verifies(alg: str) -> None:
    """The floor is a baseline only if it does the unavoidable work: decode and verify."""
    from cryptography.exceptions import InvalidSignature

    case = bench_verifier.make_case(alg, 2)
    assert case.floor_verify(case.tokens[1])["sub"] == "client-1"
    signed, _, _ = case.tokens[0].rpartition(".")
    other_signature = case.tokens[1].rpartition(".")[2]
    with pytest.raises(InvalidSignature):
        case.floor_verify(f"{signed}.{other_signature}")


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


def test_bench_memory_runs_in_subprocesses() -> None:
    from bench import bench_memory

    big, control = bench_memory.run(tokens=400, control=200)
    assert big.extra["tokens"] == 400 and big.at_most and big.baseline == [bench_memory.LIMIT_MB]
    assert big.extra["rss_after_mb"] > big.extra["rss_before_mb"] > 0  # type: ignore[operator]
    assert control.extra["real"]["tokens"] == control.extra["stub"]["tokens"] == 200  # type: ignore[index]


def test_memory_figure_is_met_below_its_budget() -> None:
    from bench.report import Figure

    assert Figure("m", "MB", [3.0], [64.0], "budget", 1.0, at_most=True).met is True
    assert Figure("m", "MB", [70.0], [64.0], "budget", 1.0, at_most=True).met is False


def test_bench_plots_are_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.plots import write_plots
    from bench.report import Figure

    load = {"rps": 100.0, "p50_ms": 1.0, "p99_ms": 5.0, "errors": 0, "requests": 300}
    figures = [
        Figure("a", "req/s", [1.0], [2.0], "bare", 0.5,
               extra={"signet_latency": [load], "baseline_latency": [load]}),
        Figure("b", "req/s", [1.0], [2.0], "c1", 20.0,
               extra={"levels": {1: load, 32: load}, "direct_levels": {1: {"rps": 1.0}, 32: {"rps": 9.0}}}),
    ]
    paths = write_plots(figures, directory=tmp_path)
    assert [p.name for p in paths] == ["throughput.png", "latency.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_latency_figures_give_p50_and_p99_rows_plotted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each concurrency level gives a p50 and a p99 row from the same pair of runs, and the
    latency plot draws that pair once (both percentiles), under a label without "p99"."""
    from bench import bench_issuer
    from bench.plots import latency_rows

    def fake_wrk(url: str, level: int, *args: object, **kwargs: object) -> bench_issuer.Load:
        p50 = 1.0 if "signet" in url else 0.5
        return bench_issuer.Load(100.0, p50 * level, 5.0 * level, 0, 300, 10.0)

    monkeypatch.setattr(bench_issuer, "wrk", fake_wrk)
    figures = bench_issuer.latency_figures("x", "http://signet", "http://bare", "bare", 1.0,
                                           lambda: (None, None), (1, 2))
    assert [f.name for f in figures] == [f"x, {p} latency at concurrency {c}"
                                         for c in bench_issuer.LOAD_LEVELS for p in ("p50", "p99")]
    p50_8, p99_8 = figures[2], figures[3]
    assert (p50_8.signet, p50_8.baseline, p99_8.signet, p99_8.baseline) == ([8.0], [4.0], [40.0], [40.0])
    assert all(f.target is None and f.at_most for f in figures)
    rows = latency_rows(figures)
    assert list(rows) == [f"x, concurrency {c}" for c in bench_issuer.LOAD_LEVELS]


def test_bench_verifier_apps_answer_over_http() -> None:
    """The three apps of the verifier-over-HTTP bench, under uvicorn: the protected one accepts
    a bench token and refuses a request without one; the unprotected one answers both alike;
    the raw-verify baseline really checks each token's signature (refuses another's)."""
    import httpx

    from bench.bench_verifier import AUDIENCE, ISSUER, make_case
    from bench.bench_verifier_http import start_app

    case = make_case("ES256", 2)
    env = {"BENCH_JWKS": case.jwks, "BENCH_ISSUER": ISSUER, "BENCH_AUDIENCE": AUDIENCE}
    auth = {"Authorization": f"Bearer {case.tokens[0]}"}
    signed = case.tokens[0].rpartition(".")[0]
    forged = {"Authorization": f"Bearer {signed}.{case.tokens[1].rpartition('.')[2]}"}
    for target, without_token, with_forged in (("protected", 401, 401), ("unprotected", 200, 200),
                                               ("raw_verify", 401, 401)):
        service, url = start_app(target, env)
        try:
            assert httpx.get(url, headers=auth).status_code == 200
            assert httpx.get(url).status_code == without_token
            assert httpx.get(url, headers=forged).status_code == with_forged
        finally:
            service.stop()


def test_bench_client_auth_runs() -> None:
    """The three client authentication methods side by side (no timing asserted): each
    authenticates, or the bench raises."""
    from bench import bench_client_auth

    figures = bench_client_auth.run(seconds=0.05, rounds=1)
    assert [f.baseline_name for f in figures] == ["private_key_jwt (ES256)",
                                                  "client_secret_basic, argon2id per request"]
    assert all(f.signet[0] > 0 and f.baseline[0] > 0 for f in figures)
