"""The key policy of the keys the managed ring creates, read back from moto's server.

moto stores a key's policy (GetKeyPolicy returns it) but does not enforce it: it checks
neither that the principals exist, nor Allow statements, nor BypassPolicyLockoutSafetyCheck.
So these tests check the document each key carries, not what AWS would let whom do with it;
tests/deploy/test_deploy_aws.py evaluates that document together with the IAM policy.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aioboto3
import boto3
import pytest
import redis.asyncio as redis
from botocore.exceptions import ClientError

from app.settings import ConfigurationError, load_settings
from signet.algorithms import ALGORITHMS
from signet.keyring import RotationPolicy
from signet.keys.base import KeyConfigurationError
from signet.keys.kms_client import KmsClient
from signet.keys.kms_ring import KmsRingBackend
from signet.keys.ringlock import RedisRingLock
from signet.rotation import Rotator
from tests.support.clock import Clock
from tests.support.processes import MOTO_ISSUER_PRINCIPAL

ACCOUNT_ROOT = "arn:aws:iam::123456789012:root"
# What no one but the issuer may do with a signing key, and what would let someone grant it.
USES_OF_A_KEY = {"kms:Sign", "kms:Verify", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom",
                 "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateMac", "kms:VerifyMac",
                 "kms:DeriveSharedSecret", "kms:CreateGrant"}
ISSUER_CALLS = {"kms:DescribeKey", "kms:GetPublicKey", "kms:ListResourceTags", "kms:Sign",
                "kms:TagResource", "kms:CreateAlias", "kms:DeleteAlias", "kms:ScheduleKeyDeletion"}


@pytest.fixture
def ring() -> str:
    return f"policy-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def open_ring(moto_endpoint, moto_session, redis_url, ring) -> AsyncIterator[Callable]:  # type: ignore[no-untyped-def]
    opened: list[KmsRingBackend] = []

    async def open_(*, session: aioboto3.Session = moto_session, clock: Clock | None = None,
                    **principals: str | None) -> KmsRingBackend:
        client = KmsClient(endpoint_url=moto_endpoint, region="us-east-1", session=session,
                           sts_endpoint_url=moto_endpoint)
        lock = RedisRingLock(redis.Redis.from_url(redis_url), f"signet-test:{ring}:lock")
        backend = KmsRingBackend(ring, ALGORITHMS["ES256"], client=client, lock=lock,
                                 clock=clock or Clock(), deletion_window_days=7, **principals)
        opened.append(backend)
        await backend.open()
        return backend

    yield open_
    for backend in opened:
        await backend.aclose()


def _policy(kms: Any, key_id: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    return document


def _ring_key_ids(kms: Any, ring: str) -> list[str]:
    tagging = boto3.client("resourcegroupstaggingapi", endpoint_url=kms.meta.endpoint_url,
                           region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
    found = tagging.get_resources(TagFilters=[{"Key": "signet:ring", "Values": [ring]}],
                                  ResourceTypeFilters=["kms:key"])["ResourceTagMappingList"]
    return [item["ResourceARN"].rsplit("/", 1)[-1] for item in found]


def _granted(policy: dict[str, Any]) -> dict[str, set[str]]:
    """principal -> actions, after checking every statement is a plain Allow on this key."""
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"] == "*", statement
        (principal,) = statement["Principal"].values()
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert not [a for a in actions if "*" in a], f"a wildcard action: {statement}"
        granted.setdefault(principal, set()).update(actions)
    return granted


def _check_policy(policy: dict[str, Any], *, issuer: str, admin: str) -> None:
    granted = _granted(policy)
    assert set(granted) == {issuer, admin}, "no one else is named"
    assert granted[issuer] == ISSUER_CALLS, "the issuer may make the ring's calls, nothing more"
    assert not granted[admin] & USES_OF_A_KEY, "the admin manages the key, never uses it"
    assert "kms:PutKeyPolicy" in granted[admin] and "kms:PutKeyPolicy" not in granted[issuer]
    signing = [s for s in policy["Statement"] if "kms:Sign" in s["Action"]]
    assert [s["Principal"] for s in signing] == [{"AWS": issuer}]
    assert signing[0]["Condition"] == {"StringEquals": {"kms:MessageType": "DIGEST"}}


async def test_every_key_lets_only_the_issuer_sign_and_the_account_only_manage(open_ring, kms, ring) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    backend = await open_ring(clock=clock, issuer_principal=MOTO_ISSUER_PRINCIPAL)
    rotator = Rotator(backend, "ES256", RotationPolicy(publish_lead=60, retire_after=120,
                                                       rotation_period=600), clock=clock)
    clock.now += 540
    await rotator.converge()  # the second key is made by a rotation pass, not at start-up
    key_ids = _ring_key_ids(kms, ring)
    assert len(key_ids) == 2
    for key_id in key_ids:
        policy = _policy(kms, key_id)
        _check_policy(policy, issuer=MOTO_ISSUER_PRINCIPAL, admin=ACCOUNT_ROOT)
        root = [s for s in policy["Statement"] if s["Principal"] == {"AWS": ACCOUNT_ROOT}]
        assert len(root) == 1 and "kms:*" not in root[0]["Action"]


async def test_a_configured_admin_replaces_the_account_root(open_ring, kms) -> None:  # type: ignore[no-untyped-def]
    admin = "arn:aws:iam::123456789012:role/security/key-admins"
    backend = await open_ring(issuer_principal=MOTO_ISSUER_PRINCIPAL, admin_principal=admin)
    policy = _policy(kms, backend.signing_key().key_id)
    _check_policy(policy, issuer=MOTO_ISSUER_PRINCIPAL, admin=admin)
    assert ":root" not in json.dumps(policy)


async def test_the_issuer_principal_is_the_role_of_its_session(open_ring, kms, moto_endpoint) -> None:  # type: ignore[no-untyped-def]
    """Unset, the principal comes from STS: an assumed-role session names its role."""
    role = f"arn:aws:iam::123456789012:role/issuer-{uuid.uuid4().hex[:8]}"
    sts = boto3.client("sts", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="issuer-pod-1")["Credentials"]
    session = aioboto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                               aws_secret_access_key=credentials["SecretAccessKey"],
                               aws_session_token=credentials["SessionToken"], region_name="us-east-1")
    backend = await open_ring(session=session)
    _check_policy(_policy(kms, backend.signing_key().key_id), issuer=role, admin=ACCOUNT_ROOT)


async def test_an_identity_no_role_comes_from_stops_start_up_naming_the_setting(open_ring, kms, ring) -> None:  # type: ignore[no-untyped-def]
    """moto's own identity for plain credentials (arn:aws:sts::ACCOUNT:user/moto) is neither a
    role session nor an IAM user: no key is created with a guessed principal."""
    with pytest.raises(KeyConfigurationError, match=r"^SIGNET_KMS_ISSUER_PRINCIPAL: cannot tell"):
        await open_ring()
    assert _ring_key_ids(kms, ring) == []


async def test_a_principal_kms_refuses_names_the_setting(open_ring) -> None:  # type: ignore[no-untyped-def]
    """KMS answers MalformedPolicyDocumentException for a principal that does not exist
    (moto never does: the refusal is injected)."""
    backend = await open_ring(issuer_principal=MOTO_ISSUER_PRINCIPAL)

    async def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "MalformedPolicyDocumentException",
                                     "Message": "invalid principals"}}, "CreateKey")

    backend.client.kms.create_key = refuse
    async with backend.ring_lock():
        with pytest.raises(KeyConfigurationError, match=r"^SIGNET_KMS_ISSUER_PRINCIPAL: KMS refused"):
            await backend.create_key("ES256")


@pytest.mark.parametrize(("env", "expected"), [
    ({"SIGNET_KMS_ISSUER_PRINCIPAL": "arn:aws:sts::123456789012:assumed-role/signet/pod-1"},
     "SIGNET_KMS_ISSUER_PRINCIPAL: 'arn:aws:sts::123456789012:assumed-role/signet/pod-1' is a role"
     " session; give the role's ARN, arn:aws:iam::123456789012:role/[PATH/]signet"),
    ({"SIGNET_KMS_ISSUER_PRINCIPAL": "arn:aws:iam::123456789012:root"},
     "SIGNET_KMS_ISSUER_PRINCIPAL: 'arn:aws:iam::123456789012:root' is not an IAM role or user ARN"),
    ({"SIGNET_KMS_ADMIN_PRINCIPAL": "*"}, "SIGNET_KMS_ADMIN_PRINCIPAL: '*' is not an account root"),
    ({"SIGNET_KMS_ISSUER_PRINCIPAL": MOTO_ISSUER_PRINCIPAL,
      "SIGNET_KMS_ADMIN_PRINCIPAL": MOTO_ISSUER_PRINCIPAL},
     "SIGNET_KMS_ADMIN_PRINCIPAL: must not be SIGNET_KMS_ISSUER_PRINCIPAL"),
])
def test_principal_settings_are_checked_at_load(env: dict[str, str], expected: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value).startswith(expected)


def test_empty_principal_settings_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNET_KMS_ISSUER_PRINCIPAL", "")
    monkeypatch.setenv("SIGNET_KMS_ADMIN_PRINCIPAL", " ")
    settings = load_settings()
    assert settings.kms_issuer_principal is None and settings.kms_admin_principal is None
