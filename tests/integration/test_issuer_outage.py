"""The issuer dies; downstream services keep verifying with the keys they hold and say so
on /readyz. Real: the issuer and two demo services (app.demo) under uvicorn, SIGKILL.
Nothing is injected."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.support.processes import start_demo, start_issuer
from tests.support.tokens import add_client, post_token
from tests.support.waiting import eventually

AUDIENCE = "api://demo"



def whoami(demo: str, token: str) -> httpx.Response:
    return httpx.get(demo + "/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_verifiers_keep_verifying_and_report_the_outage_on_readyz(tmp_path: Path) -> None:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml"),
           "SIGNET_LOCAL_KEY_DIR": str(tmp_path / "keys"), "SIGNET_JWKS_MAX_AGE": "1"}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    issuer, base = start_issuer(env)
    common = {"SIGNET_VERIFIER_ISSUER": base, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
              "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "1", "SIGNET_VERIFIER_HTTP_TIMEOUT_SECONDS": "1"}
    patient, patient_url = start_demo(common)  # default: stale keys usable for an hour
    strict, strict_url = start_demo({**common, "SIGNET_VERIFIER_MAX_STALENESS_SECONDS": "3"})
    try:
        tokens = [post_token(base, {"grant_type": "client_credentials"}, auth=("svc", secret))
                  .json()["access_token"] for _ in range(3)]
        for demo in (patient_url, strict_url):
            assert whoami(demo, tokens[0]).status_code == 200
            ready = httpx.get(demo + "/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            assert ready.json()["issuers"][base]["state"] == "fresh"

        os.kill(issuer.process.pid, signal.SIGKILL)
        issuer.process.wait(10)

        def degraded() -> bool:
            body = httpx.get(patient_url + "/readyz").json()
            return bool(body["status"] == "degraded")

        assert eventually(degraded)
        ready = httpx.get(patient_url + "/readyz")
        assert ready.status_code == 200  # still in the load balancer: it still verifies
        report = ready.json()
        assert report["issuers"][base]["state"] == "stale"
        assert report["issuers"][base]["refresh_error"]
        assert report["stats"]["stale_if_error"] >= 1
        for token in tokens[1:]:  # never seen before: verified with the cached keys
            assert whoami(patient_url, token).status_code == 200
        forged = tokens[1][:-4] + ("AAAA" if not tokens[1].endswith("AAAA") else "BBBB")
        assert whoami(patient_url, forged).status_code == 401

        # Past SIGNET_VERIFIER_MAX_STALENESS_SECONDS the strict service stops trusting old keys.
        assert eventually(lambda: httpx.get(strict_url + "/readyz").status_code == 503)
        assert httpx.get(strict_url + "/readyz").json()["issuers"][base]["state"] == "unavailable"
        refused = whoami(strict_url, tokens[2])
        assert refused.status_code == 503 and refused.headers["retry-after"]
        for service in (patient, strict):
            assert "Traceback" not in service.output()
    finally:
        for service in (patient, strict, issuer):
            service.stop()
