"""Client authentication at /token, in process: federated against private_key_jwt and
against a client_secret_basic cache miss (one argon2id check).

    python -m bench.bench_client_auth [--seconds 2] [--rounds 3]

The Authenticator alone (no HTTP, no signing), with the same registry, throttle and
replay cache as the issuer, memory only. Assertions are signed before the clock starts:
a federated round presents fresh Kubernetes-shaped tokens (each verified by signature,
as a pod's first call after the kubelet rewrote its token) and a private_key_jwt round
fresh assertions, so both pay one signature check per request. Rounds alternate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.token.client_auth import Authenticator, Credentials
from app.token.client_secrets import SecretVerifier, generate_secret, hash_secret
from app.token.federation import Federation, federation_issuer
from app.token.registry import ClientRegistry
from app.token.replay import ReplayCache
from app.token.throttle import FailureThrottle, ThrottleLimits
from bench.report import Figure

SIGNET = "https://signet.bench"
CLUSTER = "https://oidc.cluster.bench"
PREPARED = 4000  # assertions signed ahead of each round (a round stops when they run out)


def _world(tmp: Path) -> tuple[Authenticator, Any, Any, str]:
    cluster_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client_key = ec.generate_private_key(ec.SECP256R1())
    cluster_jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(cluster_key.public_key())),
                   "kid": "c1", "alg": "RS256", "use": "sig"}
    client_jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(client_key.public_key())),
                  "kid": "k1", "alg": "ES256", "use": "sig"}
    (tmp / "cluster.json").write_text(json.dumps({"keys": [cluster_jwk]}))
    secret = generate_secret()
    base = {"scopes": ["read"], "audiences": ["api://x"]}
    (tmp / "clients.yaml").write_text(yaml.safe_dump({"clients": {
        "pod": {**base, "federated": [{"issuer": CLUSTER,
                                       "subject_pattern": "system:serviceaccount:bench:*"}]},
        "keyed": {**base, "jwks": {"keys": [client_jwk]}},
        "secret": {**base, "secret_hash": hash_secret(secret)}}}))
    (tmp / "clients.yaml").chmod(0o600)
    registry = ClientRegistry(tmp / "clients.yaml")
    replay = ReplayCache()
    issuer = federation_issuer({"issuer": CLUSTER, "profile": "kubernetes",
                                "jwks_file": str(tmp / "cluster.json")}, "bench",
                               audiences=(SIGNET,), max_lifetime=3600, own_issuer=SIGNET)
    federation = Federation([issuer], registry, replay, redis_url=None, redis_prefix="bench:")
    authenticator = Authenticator(
        registry, SecretVerifier(0), FailureThrottle(ThrottleLimits(10**9, 10**9, 60), None), replay,
        assertion_audiences=[SIGNET + "/token", SIGNET], assertion_max_lifetime=300,
        federation=federation)
    return authenticator, cluster_key, client_key, secret


def _kubernetes_token(key: Any) -> str:
    now = int(time.time())
    return jwt.encode({
        "iss": CLUSTER, "sub": "system:serviceaccount:bench:api", "aud": [SIGNET], "iat": now,
        "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex,
        "kubernetes.io": {"namespace": "bench", "serviceaccount": {"name": "api", "uid": "u"},
                          "pod": {"name": "api-1", "uid": "p"}}}, key, algorithm="RS256",
        headers={"kid": "c1"})


def _client_assertion(key: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "keyed", "sub": "keyed", "aud": SIGNET + "/token", "iat": now,
                       "exp": now + 60, "jti": uuid.uuid4().hex}, key, algorithm="ES256",
                      headers={"kid": "k1"})


async def _rate(authenticator: Authenticator, credentials: list[Credentials], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    for creds in credentials:
        await authenticator.authenticate(creds, "10.0.0.1")
        done += 1
        if time.perf_counter() - start >= seconds:
            break
    return done / (time.perf_counter() - start)


async def _measure(seconds: float, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        authenticator, cluster_key, client_key, secret = _world(Path(tmp))
        rates: dict[str, list[float]] = {"federated": [], "private_key_jwt": [], "secret_miss": []}
        assert authenticator.federation is not None
        try:
            for _ in range(rounds):
                federated = [Credentials("federated", "", assertion=_kubernetes_token(cluster_key))
                             for _ in range(PREPARED)]
                keyed = [Credentials("private_key_jwt", "keyed", assertion=_client_assertion(client_key))
                         for _ in range(PREPARED)]
                secrets = [Credentials("client_secret_basic", "secret", secret=secret)] * PREPARED
                rates["federated"].append(await _rate(authenticator, federated, seconds))
                rates["private_key_jwt"].append(await _rate(authenticator, keyed, seconds))
                rates["secret_miss"].append(await _rate(authenticator, secrets, seconds))
        finally:
            await authenticator.federation.aclose()
        return rates


def run(seconds: float = 2.0, rounds: int = 3) -> list[Figure]:
    rates = asyncio.run(_measure(seconds, rounds))
    return [
        Figure("client auth: federated (Kubernetes token) vs private_key_jwt", "authentications/s",
               rates["federated"], rates["private_key_jwt"], "private_key_jwt (ES256)", 1.0,
               "in process, memory state; fresh tokens, one signature check each (RS256 vs ES256)"),
        Figure("client auth: federated vs client_secret_basic cache miss", "authentications/s",
               rates["federated"], rates["secret_miss"], "client_secret_basic, argon2id per request",
               1.0, "in process; SIGNET_CLIENT_AUTH_CACHE_SECONDS=0"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for figure in run(args.seconds, args.rounds):
        print(f"{figure.name}: {figure.ratio:.2f}x {figure.baseline_name}"
              f" (Signet median {sorted(figure.signet)[len(figure.signet) // 2]:.0f} {figure.unit})")


if __name__ == "__main__":
    main()
