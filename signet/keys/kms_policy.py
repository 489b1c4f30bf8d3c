"""The key policy of every KMS key Signet creates: only the issuer signs, an admin manages.

Without a `Policy`, CreateKey gives a key the default key policy, whose one statement lets
the account's IAM policies allow every KMS operation on the key
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html, "Allows
access to the AWS account and enables IAM policies"): then any principal of the account
whose IAM policy allows `kms:Sign` on `*` could sign tokens every verifier trusts. So each
managed key gets this policy instead:

- the issuer's principal (a role or user, named directly, so no IAM policy can widen it)
  may make exactly the calls the ring makes on a key, Sign only over a digest;
- the admin principal (default: the account root, which delegates to the account's IAM
  policies) may manage the key, `kms:PutKeyPolicy` included, but never Sign or any other
  cryptographic operation; nothing else is granted to anyone.

Pure functions, no AWS SDK: the settings validate ARNs with them at start-up.
"""

from __future__ import annotations

import json
import re
from typing import Any

ISSUER_SETTING = "SIGNET_KMS_ISSUER_PRINCIPAL"
ADMIN_SETTING = "SIGNET_KMS_ADMIN_PRINCIPAL"

_PARTITION = r"aws(?:-[a-z]+)*"
_NAME = r"[\w+=,.@-]+"
# An IAM role or user, with its path: what a key policy can name as the issuer.
_IDENTITY = re.compile(rf"arn:(?P<partition>{_PARTITION}):iam::(?P<account>\d{{12}}):"
                       rf"(?P<kind>role|user)/(?:{_NAME}/)*{_NAME}")
_ROOT = re.compile(rf"arn:(?P<partition>{_PARTITION}):iam::(?P<account>\d{{12}}):root")
# What STS GetCallerIdentity says for a role session; the role's path is not in it.
_SESSION = re.compile(rf"arn:(?P<partition>{_PARTITION}):sts::(?P<account>\d{{12}}):"
                      rf"assumed-role/(?P<role>{_NAME})/[^/]+")

# What the admin may do: manage the key, never use it. The same list as the fixed key's
# AccountAdministersTheKey statement in deploy/aws/signet-issuer.yaml (a test compares).
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:EnableKey", "kms:GetKeyPolicy", "kms:GetPublicKey",
    "kms:ListAliases", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
)


def check_issuer_principal(value: str) -> str:
    """An IAM role or user ARN; ValueError says what is wrong (settings prefix the name)."""
    if _IDENTITY.fullmatch(value):
        return value
    session = _SESSION.fullmatch(value)
    if session:
        raise ValueError(f"{value!r} is a role session; give the role's ARN,"
                         f" arn:{session['partition']}:iam::{session['account']}:role/[PATH/]"
                         f"{session['role']}")
    raise ValueError(f"{value!r} is not an IAM role or user ARN"
                     " (arn:aws:iam::ACCOUNT:role/[PATH/]NAME)")


def check_admin_principal(value: str) -> str:
    """An account root, IAM role or user ARN."""
    if _ROOT.fullmatch(value) or _IDENTITY.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not an account root, IAM role or user ARN"
                     " (arn:aws:iam::ACCOUNT:root, or :role/[PATH/]NAME)")


def principal_from_caller(arn: str) -> str:
    """The key-policy principal for an STS GetCallerIdentity ARN.

    A role session `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` becomes the role
    `arn:aws:iam::ACCOUNT:role/ROLE`. The session ARN does not carry the role's path, so
    for a role with a path (SSO roles, for one) the derived ARN names no existing role and
    KMS refuses the key policy: set SIGNET_KMS_ISSUER_PRINCIPAL to the role's ARN then.
    """
    session = _SESSION.fullmatch(arn)
    if session:
        return f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}"
    if _IDENTITY.fullmatch(arn) and ":user/" in arn:
        return arn
    raise ValueError(f"cannot tell the issuer's role from its identity {arn!r}: set it")


def account_root(principal: str) -> str:
    """The root of the principal's account: the default admin."""
    match = _IDENTITY.fullmatch(principal)
    if match is None:
        raise ValueError(f"{principal!r} is not an IAM role or user ARN")
    return f"arn:{match['partition']}:iam::{match['account']}:root"


def key_policy(issuer: str, admin: str, *, tag_keys: list[str],
               deletion_window_days: int) -> dict[str, Any]:
    """The policy document of a managed key (see the module docstring).

    `tag_keys` are the tags the ring rewrites as a key changes state (never `signet:ring`);
    deletion must be scheduled with at least `deletion_window_days`. The conditions are the
    ones the issuer's IAM policy (deploy/aws/signet-issuer.yaml) puts on the same calls.
    """
    if issuer == admin:
        raise ValueError(f"must not be the issuer's own principal ({issuer}): the issuer could"
                         " then change who may use its keys")

    def issuer_may(sid: str, actions: list[str], **condition: dict[str, Any]) -> dict[str, Any]:
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": issuer},
                                     "Action": actions, "Resource": "*"}
        if condition:
            statement["Condition"] = condition
        return statement

    return {"Version": "2012-10-17", "Id": "signet-managed-key", "Statement": [
        {"Sid": "AdminManagesTheKey", "Effect": "Allow", "Principal": {"AWS": admin},
         "Action": list(ADMIN_ACTIONS), "Resource": "*"},
        issuer_may("IssuerReadsTheKey", ["kms:DescribeKey", "kms:GetPublicKey", "kms:ListResourceTags"]),
        issuer_may("IssuerSignsDigests", ["kms:Sign"],
                   StringEquals={"kms:MessageType": "DIGEST"}),
        issuer_may("IssuerRecordsTheKeyState", ["kms:TagResource"],
                   **{"ForAllValues:StringEquals": {"aws:TagKeys": tag_keys}}),
        issuer_may("IssuerNamesTheKey", ["kms:CreateAlias", "kms:DeleteAlias"]),
        issuer_may("IssuerRetiresTheKey", ["kms:ScheduleKeyDeletion"], NumericGreaterThanEquals={
            "kms:ScheduleKeyDeletionPendingWindowInDays": str(deletion_window_days)}),
    ]}


def key_policy_json(issuer: str, admin: str, *, tag_keys: list[str], deletion_window_days: int) -> str:
    return json.dumps(key_policy(issuer, admin, tag_keys=tag_keys,
                                 deletion_window_days=deletion_window_days), separators=(",", ":"))
