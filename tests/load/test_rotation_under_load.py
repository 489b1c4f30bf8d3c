"""Rotation under load, end to end: two issuer replicas sharing a key ring kept in KMS (moto
over HTTP) and a Redis lock, two verifier processes (the demo service) sharing Redis, and a
client that keeps getting tokens from both replicas and presenting them to both verifiers
while three rotations happen. Periods are shortened by configuration, nothing else."""

from __future__ import annotations

import json
import random
import time
import uuid

import boto3
import httpx

from signet.jose import b64url_decode
from tests.support.processes import MOTO_CREDENTIALS, start_demo, start_issuer
from tests.support.tokens import add_client

ROTATIONS = 3
PERIOD = 6.0
AUDIENCE = "api://load"


def _ring_tags(moto_endpoint: str, ring: str) -> dict[str, dict[str, str]]:
    """Every KMS key of `ring` (whatever its state), by kid: its tags as the issuers wrote them."""
    tagging = boto3.client("resourcegroupstaggingapi", endpoint_url=moto_endpoint,
                           region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
    found = tagging.get_resources(TagFilters=[{"Key": "signet:ring", "Values": [ring]}],
                                  ResourceTypeFilters=["kms:key"])["ResourceTagMappingList"]
    tags = [{t["Key"]: t["Value"] for t in item["Tags"]} for item in found]
    return {t.get("signet:kid", "?"): t for t in tags}


def _tag_time(tags: dict[str, str], name: str) -> float | None:
    value = tags.get(f"signet:{name}")
    return float(value) if value else None


def test_three_rotations_under_load_fail_nothing(moto_endpoint, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ring = f"load-{uuid.uuid4().hex[:10]}"
    timing = {  # publish lead = max(2, 1) + 0.3 = 2.3 s; retire after = 3 + 1 + 0.3 = 4.3 s
        "SIGNET_ROTATION_PERIOD": str(PERIOD), "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "2",
        "SIGNET_JWKS_MAX_AGE": "1", "SIGNET_KEY_RING_RELOAD_SECONDS": "0.3",
        "SIGNET_TOKEN_LIFETIME_SECONDS": "3", "SIGNET_MAX_TOKEN_LIFETIME_SECONDS": "3",
        "SIGNET_VERIFIER_LEEWAY": "1"}
    clients_file = str(tmp_path / "clients.yaml")
    secret = add_client({"SIGNET_CLIENTS_FILE": clients_file}, "load", "--scope", "read",
                        "--audience", AUDIENCE)
    assert secret is not None
    common = {**MOTO_CREDENTIALS, **timing, "SIGNET_KEY_BACKEND": "kms", "SIGNET_KMS_RING": ring,
              "SIGNET_KMS_ENDPOINT_URL": moto_endpoint, "SIGNET_KMS_REGION": "us-east-1",
              "SIGNET_REDIS_URL": redis_url, "SIGNET_CLIENTS_FILE": clients_file}
    replica_a, issuer = start_issuer(common)
    # Replica B announces the same issuer URL, as replicas behind one load balancer do.
    replica_b, base_b = start_issuer({**common, "SIGNET_ISSUER": issuer})
    verifier_env = {"SIGNET_VERIFIER_ISSUER": issuer, "SIGNET_VERIFIER_AUDIENCE": AUDIENCE,
                    "SIGNET_REDIS_URL": redis_url, "SIGNET_VERIFIER_MIN_CACHE_SECONDS": "0.5",
                    "SIGNET_VERIFIER_MAX_CACHE_SECONDS": "2", "SIGNET_VERIFIER_LEEWAY": "1",
                    "SIGNET_VERIFIER_REDIS_PREFIX": f"signet:test:{ring}:"}
    demo_1, verifier_1 = start_demo(verifier_env)
    demo_2, verifier_2 = start_demo(verifier_env)
    issued, failures = 0, []
    token_kids: set[str] = set()  # every key seen signing, whichever replica it came from
    slowest = 0.0  # longest loop turn: a turn longer than PERIOD could miss a whole activation
    held: list[tuple[str, float]] = []  # tokens presented again later, until their own expiry
    rng = random.Random(1)
    try:
        with httpx.Client(timeout=30) as http:
            signing = [http.get(issuer + "/readyz").json()["kid"]]
            # Replica A's first key signs from A's start-up; starting B and both verifiers on a
            # loaded machine can take longer than a period, so that key may be replaced already.
            observed_from = time.time()
            last_change = time.monotonic()
            deadline = last_change + ROTATIONS * PERIOD + 60
            # Run until three rotations happened and the last replaced key has retired.
            while len(signing) < ROTATIONS + 1 or time.monotonic() - last_change < 5:
                assert time.monotonic() < deadline, f"only {len(signing) - 1} rotations happened"
                turn_started = time.monotonic()
                response = http.post((issuer, base_b)[issued % 2] + "/token", auth=("load", secret),
                                     data={"grant_type": "client_credentials"})
                assert response.status_code == 200, response.text
                token = response.json()["access_token"]
                token_kids.add(json.loads(b64url_decode(token.split(".")[0]))["kid"])
                issued += 1
                for verifier in (verifier_1, verifier_2):
                    answer = http.get(verifier + "/whoami", headers={"Authorization": f"Bearer {token}"})
                    if answer.status_code != 200:
                        failures.append(("fresh", answer.status_code, answer.headers.get("www-authenticate")))
                if rng.random() < 0.2:
                    held.append((token, time.time() + 3 - 0.5))  # lifetime 3 s; 0.5 s margin
                for old, usable_until in held:
                    if rng.random() < 0.1:
                        answer = http.get(rng.choice((verifier_1, verifier_2)) + "/whoami",
                                          headers={"Authorization": f"Bearer {old}"})
                        if answer.status_code != 200 and time.time() < usable_until:
                            failures.append(("held", answer.status_code,
                                             answer.headers.get("www-authenticate")))
                held = [h for h in held if h[1] > time.time()]
                current = http.get(issuer + "/readyz").json()["kid"]
                if current != signing[-1]:
                    signing.append(current)
                    last_change = time.monotonic()
                slowest = max(slowest, time.monotonic() - turn_started)
            published = {k["kid"] for k in http.get(issuer + "/.well-known/jwks.json").json()["keys"]}
        ring_tags = _ring_tags(moto_endpoint, ring)
    finally:
        for service in (demo_1, demo_2, replica_a, replica_b):
            service.stop()
    assert failures == [], f"{len(failures)} failed verifications of {issued} tokens: {failures[:5]}"
    assert issued > 50
    assert len(signing) >= ROTATIONS + 1 and len(set(signing)) == len(signing)
    ring_keys = {kid: tags["signet:state"] for kid, tags in ring_tags.items()}
    spans = {kid: (_tag_time(tags, "activated-at"), _tag_time(tags, "retiring-at"))
             for kid, tags in ring_tags.items()}
    # Every key that stopped signing signed for a full period first (slow passes only make
    # it longer), the first key too, which signed before this loop could watch it.
    short = {kid: round(end - start, 3) for kid, (start, end) in spans.items()
             if start is not None and end is not None and end - start < PERIOD - 1e-3}
    assert short == {}, f"keys replaced before their period ended: {short}; ring {ring_keys}"
    # Exactly one KMS key per rotation: the first key, one per activation, and at most the
    # next one already pending; none failed or orphaned. Only keys that stopped signing
    # before the loop started watching can have gone unseen.
    before = {kid for kid, (_, end) in spans.items() if end is not None and end < observed_from}
    unseen = set(ring_keys) - set(signing) - token_kids - before
    assert unseen <= {k for k, v in ring_keys.items() if v == "pending"}, (
        f"keys never seen signing: {sorted(unseen)}; ring {ring_keys}; signing {signing};"
        f" replaced before the loop started: {sorted(before)};"
        f" slowest turn {slowest:.1f}s (period {PERIOD}s)")
    assert set(signing) <= set(ring_keys), (signing, ring_keys)
    # Replaced keys left the JWKS on schedule (all but the last one retired by now).
    for kid in signing[:-2]:
        assert ring_keys[kid] == "retired" and kid not in published, (kid, ring_keys[kid])
    assert signing[-1] in published and ring_keys[signing[-1]] == "active"
    print(f"rotation under load: {issued} tokens, {len(signing) - 1} rotations, 0 failures")
