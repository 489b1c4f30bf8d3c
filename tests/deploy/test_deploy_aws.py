"""deploy/aws/signet-issuer.yaml: the IAM policies grant exactly what the issuer calls.

`make deploy-check` runs cfn-lint and checkov on the template. These tests run the real
KMS backends (fixed key and managed ring) against a KMS client that records every call
instead of sending it, and check each call against the template: its IAM action is
granted, the tag keys it writes are the ones the tag conditions allow, Sign asks for a
DIGEST, deletions use a window the policy accepts, aliases stay under the ring's prefix.
Conversely every granted action is one the code makes, so nothing unused is granted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from app.settings import Settings
from signet.algorithms import ALGORITHMS, get_algorithm
from signet.keyring import KeyState
from signet.keys.kms import KmsKeyBackend
from signet.keys.kms_client import KmsClient
from signet.keys.kms_policy import ADMIN_ACTIONS
from signet.keys.kms_ring import STATE_TAGS, KmsRingBackend
from tests.support.deploy_files import ROOT

TEMPLATE_PATH = ROOT / "deploy" / "aws" / "signet-issuer.yaml"
RING = "prod"
ACCOUNT, ROLE_NAME = "111122223333", "signet-issuer-IssuerRole-EXAMPLE"
ISSUER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT}:root"
# Who the issuer is: STS answers it, and no policy can allow or deny it ("No permissions are
# required to perform this operation": the STS API reference, GetCallerIdentity).
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
ES256 = get_algorithm("ES256")
_PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
_PUBLIC_DER = _PRIVATE_KEY.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)


class RecordingKmsClient(KmsClient):
    """KmsClient whose transport is a list and a tiny in-memory KMS (keys, tags, aliases):
    each call is recorded and answered locally, nothing is sent."""

    def __init__(self) -> None:
        super().__init__(region="eu-west-1")
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.tags: dict[str, dict[str, str]] = {}
        self.aliases: dict[str, str] = {}

    async def open(self) -> None:
        return None

    async def at_startup(self, operation: str, setting: str = "", **params: Any) -> dict[str, Any]:
        return await self.call(operation, **params)

    async def call(self, operation: str, client: str = "kms", **params: Any) -> dict[str, Any]:
        self.calls.append((client, operation, params))
        key_id = params.get("KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab")
        if operation == "create_key":
            key_id = f"key-{len(self.tags) + 1}"
            self.tags[key_id] = {t["TagKey"]: t["TagValue"] for t in params["Tags"]}
            return {"KeyMetadata": {"KeyId": key_id}}
        if operation == "tag_resource":
            self.tags[key_id].update({t["TagKey"]: t["TagValue"] for t in params["Tags"]})
        if operation == "list_resource_tags":
            return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in self.tags[key_id].items()]}
        if operation == "create_alias":
            self.aliases[params["AliasName"]] = params["TargetKeyId"]
        if operation == "delete_alias":
            del self.aliases[params["AliasName"]]
        if operation == "list_aliases":
            return {"Aliases": [{"AliasName": name, "TargetKeyId": target}
                                for name, target in self.aliases.items()]}
        if operation == "describe_key":
            return {"KeyMetadata": {
                "KeyId": key_id, "Arn": f"arn:aws:kms:eu-west-1:111122223333:key/{key_id}",
                "KeyUsage": "SIGN_VERIFY", "KeyState": "Enabled", "KeySpec": "ECC_NIST_P256",
                "SigningAlgorithms": ["ECDSA_SHA_256"]}}
        if operation == "get_public_key":
            return {"PublicKey": _PUBLIC_DER}
        if operation == "get_caller_identity":  # an IRSA role session
            return {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/botocore-session-1"}
        if operation == "sign":
            signature = _PRIVATE_KEY.sign(params["Message"], ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            return {"Signature": signature}
        return {}  # get_resources finds nothing; schedule_key_deletion succeeds

    def action(self, client: str, operation: str) -> str:
        service = {"kms": "kms", "tagging": "tag", "sts": "sts"}[client]
        return f"{service}:{''.join(part.title() for part in operation.split('_'))}"

    @property
    def actions(self) -> set[str]:
        return {self.action(client, operation) for client, operation, _ in self.calls}


class FakeLock:
    fence = 7

    def hold(self) -> Any:
        raise NotImplementedError

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
def template() -> Any:
    return cfn_yaml.loads(TEMPLATE_PATH.read_text())


def _statements(template: Any, policy: str) -> list[dict[str, Any]]:
    document = template["Resources"][policy]["Properties"]["PolicyDocument"]
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _granted(template: Any, policy: str) -> set[str]:
    return {action for s in _statements(template, policy) for action in _actions(s)}


def _statement(template: Any, policy: str, sid: str) -> dict[str, Any]:
    return next(s for s in _statements(template, policy) if s["Sid"] == sid)


async def _managed_ring_lifecycle(admin: str | None = None) -> tuple[RecordingKmsClient, KmsRingBackend]:
    """Every KMS call the managed ring makes: who am I, create, record, sign, check, retire,
    repair."""
    client = RecordingKmsClient()
    backend = KmsRingBackend(RING, ES256, client=client, lock=FakeLock(), admin_principal=admin,
                             deletion_window_days=Settings().kms_deletion_window_days)
    record = await backend.create_key("ES256")
    current = await backend.read_ring()
    active = record.__class__(record.kid, record.alg, KeyState.ACTIVE, created_at=record.created_at,
                              activated_at=record.created_at + 1, ref=record.ref)
    snapshot = await backend.write_ring(current.version, [active])
    await backend.use_ring(snapshot)
    await backend.signing_key().sign(b"header.payload")
    await backend.check_reachable()
    await backend.key_unpublished(active)
    await backend._discard(record.ref, None)  # a key whose creation was interrupted
    await backend.repair_ring()
    return client, backend


# --- managed keys ------------------------------------------------------------------------

async def test_managed_policy_grants_exactly_the_calls_the_ring_makes(template: Any) -> None:
    client, _ = await _managed_ring_lifecycle()
    assert _granted(template, "ManagedKeysIssuerPolicy") == client.actions - NEEDS_NO_PERMISSION


async def test_managed_ring_tags_only_what_the_tag_conditions_allow(template: Any) -> None:
    client, _ = await _managed_ring_lifecycle()
    at_creation = _statement(template, "ManagedKeysIssuerPolicy", "TagRingKeysAtCreation")["Condition"]
    create = _statement(template, "ManagedKeysIssuerPolicy", "CreateRingKeys")["Condition"]
    retag = _statement(template, "ManagedKeysIssuerPolicy", "RetagRingKeys")["Condition"]
    creation_keys = set(at_creation["ForAllValues:StringEquals"]["aws:TagKeys"])
    assert creation_keys == set(create["ForAllValues:StringEquals"]["aws:TagKeys"])
    retag_keys = set(retag["ForAllValues:StringEquals"]["aws:TagKeys"])
    assert "signet:ring" not in retag_keys, "a key never leaves or changes its ring"
    assert set(STATE_TAGS) == retag_keys, "the key policy and the IAM policy allow the same tags"

    (created,) = [p for _, op, p in client.calls if op == "create_key"]
    tags = {t["TagKey"]: t["TagValue"] for t in created["Tags"]}
    assert set(tags) == creation_keys
    assert tags["signet:ring"] == RING
    assert created["KeyUsage"] == create["StringEquals"]["kms:KeyUsage"]
    assert created["KeySpec"] in create["StringEquals"]["kms:KeySpec"]
    assert "MultiRegion" not in created and "Origin" not in created
    # Its own key policy, never the default one; the issuer cannot PutKeyPolicy, hence the bypass.
    assert json.loads(created["Policy"])["Statement"]
    assert created["BypassPolicyLockoutSafetyCheck"] is True
    for _, operation, params in client.calls:
        if operation == "tag_resource":
            assert {t["TagKey"] for t in params["Tags"]} <= retag_keys


async def test_managed_ring_signs_digests_deletes_slowly_and_keeps_its_aliases(template: Any) -> None:
    client, _ = await _managed_ring_lifecycle()
    sign = _statement(template, "ManagedKeysIssuerPolicy", "SignWithRingKeys")["Condition"]["StringEquals"]
    retire = _statement(template, "ManagedKeysIssuerPolicy", "RetireRingKeys")["Condition"]
    minimum = int(template["Parameters"]["DeletionWindowDays"]["Default"])
    assert retire["NumericGreaterThanEquals"]["kms:ScheduleKeyDeletionPendingWindowInDays"] == {
        "Ref": "DeletionWindowDays"}
    alias_resource = _statement(template, "ManagedKeysIssuerPolicy", "RingAliases")["Resource"]["Fn::Sub"]
    assert alias_resource.endswith(":alias/signet/${RingName}/*")
    for _, operation, params in client.calls:
        if operation == "sign":
            assert params["MessageType"] == sign["kms:MessageType"]
        if operation == "schedule_key_deletion":
            assert params["PendingWindowInDays"] >= minimum
        if operation in ("create_alias", "delete_alias"):
            assert params["AliasName"].startswith(f"alias/signet/{RING}/")
    assert {op for _, op, _ in client.calls} >= {"sign", "schedule_key_deletion", "create_alias",
                                                 "delete_alias", "get_resources"}


def test_every_kms_operation_in_the_code_is_granted(template: Any) -> None:
    """Catches calls the recorded lifecycle does not reach (paths added later, say)."""
    granted = _granted(template, "ManagedKeysIssuerPolicy") | _granted(template, "FixedKeyIssuerPolicy")
    recorder = RecordingKmsClient()
    found = set()
    for path in sorted((ROOT / "signet" / "keys").glob("*.py")):
        calls = re.finditer(r'\b(?:call|at_startup)\(\s*"(\w+)"(?:,\s*client="(\w+)")?', path.read_text())
        for match in calls:
            found.add(recorder.action(match[2] or "kms", match[1]))
    assert found and found - NEEDS_NO_PERMISSION <= granted, f"not granted: {sorted(found - granted)}"


def test_create_key_specs_are_every_spec_signet_can_sign_with(template: Any) -> None:
    specs = {spec for alg in ALGORITHMS.values() for spec in alg.kms_key_specs}
    create = _statement(template, "ManagedKeysIssuerPolicy", "CreateRingKeys")["Condition"]["StringEquals"]
    assert set(create["kms:KeySpec"]) == specs
    assert set(template["Parameters"]["KeySpec"]["AllowedValues"]) == specs


def test_statements_on_keys_require_the_ring_tag_except_tagging_at_creation(template: Any) -> None:
    for statement in _statements(template, "ManagedKeysIssuerPolicy"):
        resource = statement["Resource"]
        if resource == "*":
            assert _actions(statement) in (["kms:CreateKey"], ["kms:ListAliases"], ["tag:GetResources"])
            continue
        if resource["Fn::Sub"].endswith(":key/*"):
            equals = statement["Condition"]["StringEquals"]
            ring = equals.get("aws:ResourceTag/signet:ring") or equals.get("aws:RequestTag/signet:ring")
            assert ring == {"Ref": "RingName"}, statement["Sid"]
            if "aws:RequestTag/signet:ring" in equals:
                assert _actions(statement) == ["kms:TagResource"]


# --- managed keys: their key policy and the IAM policy together ---------------------------
# A call on a key is allowed when the key policy allows the issuer's principal itself, or
# allows the account root (which delegates to IAM) and the IAM policy allows it too
# (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html). AWS is
# not there to ask (moto enforces no key policy), so this evaluates the documents.

def _request_context(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The condition keys a recorded call sets, as KMS would see them."""
    if operation == "sign":
        return {"kms:MessageType": params["MessageType"]}
    if operation == "tag_resource":
        return {"aws:TagKeys": [t["TagKey"] for t in params["Tags"]]}
    if operation == "schedule_key_deletion":
        return {"kms:ScheduleKeyDeletionPendingWindowInDays": params["PendingWindowInDays"]}
    return {}


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            allowed = expected if isinstance(expected, list) else [expected]
            if operator == "StringEquals":
                holds = context.get(key) in allowed
            elif operator == "ForAllValues:StringEquals":
                holds = key in context and set(context[key]) <= set(allowed)
            elif operator == "NumericGreaterThanEquals":
                holds = key in context and float(context[key]) >= float(allowed[0])
            else:
                raise AssertionError(f"{operator}: a condition this test cannot evaluate")
            if not holds:
                return False
    return True


def _key_policy_allows(policy: dict[str, Any], principal: str, action: str,
                       context: dict[str, Any] | None) -> bool:
    """context None: whether any statement names the action for the principal at all."""
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
        if statement["Principal"] != {"AWS": principal} or action not in _actions(statement):
            continue
        if context is None or _condition_holds(statement.get("Condition", {}), context):
            return True
    return False


def _iam_key_actions(template: Any) -> set[str]:
    """What the IAM policy allows on keys (a resource `...:key/*`)."""
    return {action for s in _statements(template, "ManagedKeysIssuerPolicy")
            if isinstance(s["Resource"], dict) and s["Resource"]["Fn::Sub"].endswith(":key/*")
            for action in _actions(s)}


def _on_a_key(operation: str, params: dict[str, Any]) -> bool:
    """KMS authorizes the call on a key (and so asks its key policy); CreateAlias and
    DeleteAlias are authorized on the alias (IAM alone) and on its key."""
    return "KeyId" in params or operation in ("create_alias", "delete_alias")


@pytest.mark.parametrize("admin", [None, "arn:aws:iam::111122223333:role/key-admins"],
                         ids=["admin-is-account-root", "admin-role"])
async def test_iam_and_key_policy_together_allow_exactly_the_calls_the_issuer_makes(
        template: Any, admin: str | None) -> None:
    client, _ = await _managed_ring_lifecycle(admin)
    (created,) = [p for _, op, p in client.calls if op == "create_key"]
    policy = json.loads(created["Policy"])
    iam_on_keys = _iam_key_actions(template)
    iam_elsewhere = _granted(template, "ManagedKeysIssuerPolicy")  # "*" and alias resources
    made_on_keys = set()
    for service, operation, params in client.calls:
        action = client.action(service, operation)
        if not _on_a_key(operation, params):
            assert action in iam_elsewhere | NEEDS_NO_PERMISSION, action
            continue
        made_on_keys.add(action)
        # The key policy alone lets the issuer make each call, conditions included: with
        # another admin than the account root, no IAM policy can help.
        assert _key_policy_allows(policy, ISSUER_ROLE, action, _request_context(operation, params)), (
            action, params)
    # ...and nothing else on a key: neither itself, nor through the account and IAM.
    named = {a for s in policy["Statement"] for a in _actions(s)} | iam_on_keys
    possible = {a for a in named if _key_policy_allows(policy, ISSUER_ROLE, a, None)
                or (_key_policy_allows(policy, ACCOUNT_ROOT, a, None) and a in iam_on_keys)}
    assert possible == made_on_keys
    assert not _key_policy_allows(policy, ISSUER_ROLE, "kms:PutKeyPolicy", None)


@pytest.mark.parametrize("admin", [None, "arn:aws:iam::111122223333:role/key-admins"],
                         ids=["admin-is-account-root", "admin-role"])
async def test_no_iam_policy_lets_another_principal_sign(admin: str | None) -> None:
    """The finding this policy closes: under the default key policy, anyone whose IAM policy
    allows kms:Sign on "*" could sign tokens."""
    client, _ = await _managed_ring_lifecycle(admin)
    (created,) = [p for _, op, p in client.calls if op == "create_key"]
    policy = json.loads(created["Policy"])
    signers = {s["Principal"]["AWS"] for s in policy["Statement"] if "kms:Sign" in _actions(s)}
    assert signers == {ISSUER_ROLE}
    assert not any("*" in a for s in policy["Statement"] for a in _actions(s)), "no kms:* or Get*"
    admins = {s["Principal"]["AWS"] for s in policy["Statement"]} - {ISSUER_ROLE}
    assert admins == {admin or ACCOUNT_ROOT}
    assert _key_policy_allows(policy, admin or ACCOUNT_ROOT, "kms:PutKeyPolicy", None), "manageable"


def test_managed_keys_admin_may_do_what_the_fixed_keys_account_may(template: Any) -> None:
    fixed = template["Resources"]["SigningKey"]["Properties"]["KeyPolicy"]["Statement"]
    (account,) = [s for s in fixed if s["Sid"] == "AccountAdministersTheKey"]
    assert sorted(account["Action"]) == sorted(ADMIN_ACTIONS)
    assert "kms:Sign" not in ADMIN_ACTIONS


# --- fixed key ---------------------------------------------------------------------------

async def test_fixed_key_policy_grants_exactly_the_calls_the_backend_makes(template: Any) -> None:
    client = RecordingKmsClient()
    backend = KmsKeyBackend("alias/signet/prod", ES256, client=client)
    await backend.open()
    await backend.signing_key().sign(b"header.payload")
    backend._reachable_at = 0.0  # past the readiness cache
    await backend.check_reachable()
    assert _granted(template, "FixedKeyIssuerPolicy") == client.actions
    (sign,) = [p for _, op, p in client.calls if op == "sign"]
    condition = _statement(template, "FixedKeyIssuerPolicy", "SignWithTheFixedKey")["Condition"]
    assert sign["MessageType"] == condition["StringEquals"]["kms:MessageType"]


def test_fixed_key_is_an_asymmetric_signing_key_that_outlives_the_stack(template: Any) -> None:
    key = template["Resources"]["SigningKey"]
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    assert template["Parameters"]["KeySpec"]["Default"] == "ECC_NIST_P256"
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    alias = template["Resources"]["SigningKeyAlias"]["Properties"]["AliasName"]["Fn::Sub"]
    assert alias == "alias/signet/${RingName}", "outside alias/signet/<ring>/, which the managed ring reads"


# --- the IRSA role and the description -----------------------------------------------------

def test_irsa_trust_policy_is_json_naming_one_service_account(template: Any) -> None:
    document = template["Resources"]["IssuerRole"]["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"]
    trust = json.loads(re.sub(r"\$\{[^}]+\}", "X", document))
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]["StringEquals"]) == {"X:sub", "X:aud"}
    assert "system:serviceaccount:${ServiceAccountNamespace}:${ServiceAccountName}" in document


def test_description_says_verifiers_need_no_aws_access(template: Any) -> None:
    assert "Verifiers" in template["Description"] and "no AWS access" in template["Description"]


def test_key_mode_copies_for_checkov_differ_only_in_the_default(tmp_path: Path) -> None:
    import runpy

    key_modes = runpy.run_path(str(ROOT / "deploy" / "aws" / "key_modes.py"))
    text = TEMPLATE_PATH.read_text()
    variants = key_modes["key_mode_variants"](text)
    assert set(variants) == set(cfn_yaml.loads(text)["Parameters"]["KeyMode"]["AllowedValues"])
    for mode, variant in variants.items():
        assert cfn_yaml.loads(variant)["Parameters"]["KeyMode"]["Default"] == mode
        assert len(variant.splitlines()) == len(text.splitlines())
