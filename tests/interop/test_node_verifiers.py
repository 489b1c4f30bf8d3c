"""Node.js verifiers accept Signet tokens: `jose` (jwtVerify + createRemoteJWKSet) and
awslabs' `aws-jwt-verify` (JwtVerifier), each fetching the JWKS over HTTP from a running
issuer, with issuer, audience and typ checks, and each refusing a token with a flipped
signature bit. The npm packages are pinned by tests/interop/node/package-lock.json and
installed by `make test` (npm ci)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from signet.algorithms import ALGORITHMS
from tests.interop.issuers import IssuedToken, tamper_signature

NODE_DIR = Path(__file__).parent / "node"
# Read off aws-jwt-verify 5.2.1 (dist/esm/jwt-verifier.js, `supportedSignatureAlgorithms`):
# RS256/384/512, ES256/384/512 and EdDSA. It has no RSA-PSS at all, and not RFC 9864's
# fully specified Ed25519 name.
AWS_JWT_VERIFY_ALGS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"})


def run_node_verifiers(cases: list[dict[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Run verify.mjs once for all cases; returns library -> label -> outcome."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "jose").is_dir():
        pytest.fail("node and the npm packages are needed: `make test` runs `npm ci` in "
                    f"{NODE_DIR.relative_to(NODE_DIR.parents[2])}")
    result = subprocess.run([node, "verify.mjs"], cwd=NODE_DIR, input=json.dumps({"cases": cases}),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def node_results(issued: dict[str, IssuedToken]) -> dict[str, dict[str, dict[str, Any]]]:
    cases = []
    for token in issued.values():
        cases.append(token.case())
        cases.append(token.case(f"{token.alg}-tampered", tamper_signature(token.token)))
    es256 = issued["ES256"]
    cases.append({**es256.case("ES256-other-audience"), "audience": "https://elsewhere.test"})
    return run_node_verifiers(cases)


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_jose_verifies_every_algorithm(node_results: dict[str, Any], alg: str) -> None:
    outcome = node_results["jose"][alg]
    assert outcome == {"ok": True, "sub": "interop", "alg": alg}, outcome
    tampered = node_results["jose"][f"{alg}-tampered"]
    assert tampered["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", tampered


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_aws_jwt_verify_accepts_what_it_supports(node_results: dict[str, Any], alg: str) -> None:
    outcome = node_results["aws-jwt-verify"][alg]
    tampered = node_results["aws-jwt-verify"][f"{alg}-tampered"]
    if alg in AWS_JWT_VERIFY_ALGS:
        assert outcome == {"ok": True, "sub": "interop", "alg": alg}, outcome
        assert tampered["error"] == "JwtInvalidSignatureError", tampered
    else:  # RSA-PSS, Ed25519: refused by the library itself, before any signature check
        assert outcome["error"] == "JwtInvalidSignatureAlgorithmError", outcome
        assert alg in outcome["message"], outcome
        assert tampered["error"] == "JwtInvalidSignatureAlgorithmError", tampered


def test_both_node_libraries_check_the_audience(node_results: dict[str, Any]) -> None:
    assert node_results["jose"]["ES256-other-audience"]["code"] == "ERR_JWT_CLAIM_VALIDATION_FAILED"
    assert node_results["aws-jwt-verify"]["ES256-other-audience"]["error"] == "JwtInvalidAudienceError"
