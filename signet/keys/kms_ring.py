"""AWS KMS keys that Signet creates and rotates itself: the key ring lives in KMS.

KMS cannot rotate asymmetric keys, so Signet does: each key it creates carries tags
(`signet:ring`, `signet:alg`, `signet:state`, `signet:kid`, and the transition times) and
an alias `alias/signet/<ring>/<kid>`. The ring is read from those aliases (ListAliases,
consistent) and tags (ListResourceTags); no call scans every key in the account.

Creating a key takes three calls (CreateKey with tags, GetPublicKey, CreateAlias); the
key is tagged `creating` from its first instant, so a crash in between leaves a key the
Resource Groups Tagging API finds by tag (`tag:GetResources`), and the next pass
schedules it for deletion and tags it `failed`. Retired keys are scheduled for deletion
after a window (7-30 days, cancellable in KMS); nothing is deleted at once.

Every key is created with the key policy of kms_policy.py: only the issuer's principal may
sign with it, an admin principal (default: the account root) may manage it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from signet.algorithms import ALGORITHMS, Algorithm, KeyFamily
from signet.keyring import KeyRecord, KeyState, RingSnapshot, active_key, record_to_dict
from signet.keys import kms_policy
from signet.keys.base import KeyConfigurationError, KeyUnavailableError, PublishedKey
from signet.keys.kms import KmsSigningKey, fetch_published_key
from signet.keys.kms_client import KmsClient
from signet.rotation import ensure_active

TAG_RING, TAG_ALG, TAG_STATE, TAG_KID = "signet:ring", "signet:alg", "signet:state", "signet:kid"
TAG_FENCE = "signet:fence"
TIME_TAGS = {"created_at": "signet:created-at", "activated_at": "signet:activated-at",
             "retiring_at": "signet:retiring-at", "retired_at": "signet:retired-at"}
CREATING, FAILED = "creating", "failed"
# The tags a key's state changes rewrite (its key policy lets the issuer write these only).
STATE_TAGS = [TAG_STATE, TAG_KID, TAG_ALG, TAG_FENCE, *TIME_TAGS.values()]
ORPHAN_AFTER_SECONDS = 600.0  # a `creating` key this old without an alias was abandoned


class RingLock(Protocol):
    """What the ring needs from a lock: hold it, and confirm it is still held before writes."""

    fence: int

    def hold(self) -> AbstractAsyncContextManager[int]: ...
    async def check(self) -> None: ...
    async def aclose(self) -> None: ...


def _tags(pairs: list[dict[str, str]]) -> dict[str, str]:
    return {p["TagKey"]: p["TagValue"] for p in pairs}


def _record_from_tags(key_id: str, tags: dict[str, str]) -> KeyRecord:
    times = {field: float(tags[tag]) if tags.get(tag) else None for field, tag in TIME_TAGS.items()}
    return KeyRecord(kid=tags[TAG_KID], alg=tags[TAG_ALG], state=KeyState(tags[TAG_STATE]),
                     ref=key_id, created_at=times.pop("created_at") or 0.0, **times)


def _version(records: tuple[KeyRecord, ...]) -> int:
    """KMS has no ring version, so the published part of the ring is its version (a retired
    key leaves the ring once its alias is gone, which must not look like a change)."""
    body = json.dumps([record_to_dict(r) for r in records if r.published], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(body).digest()[:8], "big")


class KmsRingBackend:
    name = "kms"

    def __init__(self, ring: str, alg: Algorithm, *, client: KmsClient, lock: RingLock,
                 rsa_key_spec: str = "RSA_2048", deletion_window_days: int = 30,
                 issuer_principal: str | None = None, admin_principal: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.ring = ring
        self.alias_prefix = f"alias/signet/{ring}/"
        self.alg = alg
        self.client = client
        self.lock = lock
        self.rsa_key_spec = rsa_key_spec
        self.deletion_window_days = deletion_window_days
        # Who the key policy lets sign (None: this process's own role, asked of STS at open)
        # and who it lets manage the keys (None: the issuer's account root).
        self.issuer_principal = issuer_principal
        self.admin_principal = admin_principal
        self.key_policy = ""  # the policy document each new key gets; set by open()
        self.clock = clock
        self.snapshot = RingSnapshot(0, ())
        self._keys: dict[str, KmsSigningKey] = {}
        self._signing: KmsSigningKey | None = None

    # --- KeyBackend ----------------------------------------------------------------------

    async def open(self) -> None:
        await self.client.open()
        try:
            await self._prepare_key_policy()
            await ensure_active(self, self.alg.name, self.clock)
        except BaseException:
            await self.client.aclose()
            raise

    def signing_key(self) -> KmsSigningKey:
        if self._signing is None:
            raise KeyUnavailableError(f"no active {self.alg.name} key in KMS ring {self.ring!r}")
        return self._signing

    def published_keys(self) -> list[PublishedKey]:
        return [k.published for k in self._keys.values()]

    async def check_reachable(self) -> None:
        await self.client.check_enabled(self.signing_key().key_id)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.lock.aclose()

    # --- key ring primitives -------------------------------------------------------------

    @asynccontextmanager
    async def ring_lock(self) -> AsyncIterator[None]:
        async with self.lock.hold():
            yield

    async def read_ring(self) -> RingSnapshot:
        records = []
        for alias in await self._ring_aliases():
            tags = await self._key_tags(alias["TargetKeyId"])
            if tags.get(TAG_STATE) in (CREATING, FAILED, None):
                continue  # not part of the ring (yet, or ever); repair_ring deals with it
            records.append(_record_from_tags(alias["TargetKeyId"], tags))
        ordered = tuple(sorted(records, key=lambda r: (r.created_at, r.kid)))
        return RingSnapshot(_version(ordered), ordered)

    async def repair_ring(self) -> None:
        """Under the lock: finish retirements and clean up keys a crash left behind."""
        aliased: set[str] = set()
        for alias in await self._ring_aliases():
            key_id = alias["TargetKeyId"]
            aliased.add(key_id)
            state = (await self._key_tags(key_id)).get(TAG_STATE)
            if state in (CREATING, FAILED, None):  # died between CreateAlias and the ring write
                await self._discard(key_id, alias["AliasName"])
            elif state == KeyState.RETIRED.value:  # died between the ring write and the cleanup
                await self._schedule_deletion(key_id, alias["AliasName"])
        found = await self.client.call(
            "get_resources", client="tagging", ResourceTypeFilters=["kms:key"],
            TagFilters=[{"Key": TAG_RING, "Values": [self.ring]},
                        {"Key": TAG_STATE, "Values": [CREATING]}])
        for item in found.get("ResourceTagMappingList", []):
            key_id = item["ResourceARN"].rsplit("/", 1)[-1]
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}  # this API says Key/Value
            created = float(tags.get(TIME_TAGS["created_at"]) or 0)
            if key_id not in aliased and self.clock() - created >= ORPHAN_AFTER_SECONDS:
                await self._discard(key_id, None)

    async def write_ring(self, expected_version: int, records: list[KeyRecord]) -> RingSnapshot:
        current = await self.read_ring()
        if current.version != expected_version:
            raise KeyUnavailableError("the KMS key ring changed under the lock; retrying next pass")
        before = {r.kid: r for r in current.records}
        for record in records:
            if before.get(record.kid) != record:
                await self.lock.check()
                await self.client.call("tag_resource", KeyId=record.ref, Tags=self._state_tags(record))
        ordered = tuple(sorted(records, key=lambda r: (r.created_at, r.kid)))
        return RingSnapshot(_version(ordered), ordered)

    async def create_key(self, alg_name: str) -> KeyRecord:
        alg = ALGORITHMS[alg_name]
        now = self.clock()
        await self.lock.check()
        spec = self.rsa_key_spec if alg.family is KeyFamily.RSA else alg.kms_key_specs[0]
        if not self.key_policy:
            await self._prepare_key_policy()  # open() did, unless the ring is used unopened
        try:
            created = await self.client.call(
                "create_key", KeyUsage="SIGN_VERIFY", KeySpec=spec,
                Description=f"Signet signing key ({alg.name}) of ring {self.ring}",
                # The policy names an admin that may PutKeyPolicy, so the key stays manageable;
                # the check is bypassed because the issuer itself must never be able to change
                # who may sign ("Use this parameter only when you intend to prevent the
                # principal that is making the request from making a subsequent PutKeyPolicy
                # request": https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html,
                # BypassPolicyLockoutSafetyCheck; and key-policy-default.html#prevent-unmanageable-key).
                Policy=self.key_policy, BypassPolicyLockoutSafetyCheck=True,
                Tags=[{"TagKey": k, "TagValue": v} for k, v in {
                    TAG_RING: self.ring, TAG_ALG: alg.name, TAG_STATE: CREATING,
                    TIME_TAGS["created_at"]: repr(now), TAG_FENCE: str(self.lock.fence)}.items()])
        except KeyUnavailableError as exc:
            if "MalformedPolicyDocumentException" in str(exc):  # a principal KMS cannot see
                raise KeyConfigurationError(kms_policy.ISSUER_SETTING, (
                    "KMS refused the new key's policy (MalformedPolicyDocumentException): its"
                    f" issuer {self._issuer()!r} or admin {self._admin()!r} names no existing"
                    " principal (a role with a path must be given with its path, and"
                    f" {kms_policy.ADMIN_SETTING} must exist)")) from exc
            raise
        key_id = created["KeyMetadata"]["KeyId"]
        try:
            published = await fetch_published_key(self.client, key_id, alg, at_startup=False)
            await self.client.call("tag_resource", KeyId=key_id,
                                   Tags=[{"TagKey": TAG_KID, "TagValue": published.kid}])
            await self.client.call("create_alias", AliasName=self.alias_prefix + published.kid,
                                   TargetKeyId=key_id)
        except Exception:
            await self._discard(key_id, None)
            raise
        return KeyRecord(published.kid, alg.name, KeyState.PENDING, created_at=now, ref=key_id)

    async def key_recorded(self, record: KeyRecord) -> None:
        return None  # write_ring already tagged it pending: it is in the ring

    async def key_unpublished(self, record: KeyRecord) -> None:
        await self._schedule_deletion(record.ref, self.alias_prefix + record.kid)

    async def use_ring(self, snapshot: RingSnapshot) -> None:
        keys: dict[str, KmsSigningKey] = {}
        for record in snapshot.records:
            if record.published:
                known = self._keys.get(record.kid)
                if known is None:
                    alg = ALGORITHMS[record.alg]
                    published = await fetch_published_key(self.client, record.ref, alg, at_startup=False)
                    known = KmsSigningKey(published, record.ref, self.client)
                keys[record.kid] = known
        active = active_key(snapshot.records, self.alg.name)
        self._keys = keys
        self._signing = keys.get(active.kid) if active else None
        self.snapshot = snapshot

    # --- internals -----------------------------------------------------------------------

    async def _prepare_key_policy(self) -> None:
        """Resolve the principals the key policy names; a bad one stops start-up, naming it."""
        if self.issuer_principal is None:
            try:
                identity = await self.client.call("get_caller_identity", client="sts")
                self.issuer_principal = kms_policy.principal_from_caller(identity["Arn"])
            except KeyUnavailableError as exc:
                raise KeyConfigurationError(kms_policy.ISSUER_SETTING, (
                    f"unset, and STS could not say who the issuer is ({exc}): set it to the"
                    " issuer's role ARN")) from None
            except ValueError as exc:
                raise KeyConfigurationError(kms_policy.ISSUER_SETTING, str(exc)) from None
        for setting, value, check in (
                (kms_policy.ISSUER_SETTING, self.issuer_principal, kms_policy.check_issuer_principal),
                (kms_policy.ADMIN_SETTING, self.admin_principal, kms_policy.check_admin_principal)):
            try:
                if value is not None:
                    check(value)
            except ValueError as exc:
                raise KeyConfigurationError(setting, str(exc)) from None
        try:
            self.key_policy = kms_policy.key_policy_json(
                self._issuer(), self._admin(), tag_keys=STATE_TAGS,
                deletion_window_days=self.deletion_window_days)
        except ValueError as exc:
            raise KeyConfigurationError(kms_policy.ADMIN_SETTING, str(exc)) from None

    def _issuer(self) -> str:
        assert self.issuer_principal is not None, "resolved by open()"
        return self.issuer_principal

    def _admin(self) -> str:
        return self.admin_principal or kms_policy.account_root(self._issuer())

    async def _ring_aliases(self) -> list[dict[str, Any]]:
        aliases: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            page = await self.client.call("list_aliases", **({"Marker": marker} if marker else {}))
            aliases += [a for a in page.get("Aliases", [])
                        if a.get("AliasName", "").startswith(self.alias_prefix) and a.get("TargetKeyId")]
            if not page.get("Truncated"):
                return aliases
            marker = page["NextMarker"]

    async def _key_tags(self, key_id: str) -> dict[str, str]:
        response = await self.client.call("list_resource_tags", KeyId=key_id)
        return _tags(response.get("Tags", []))

    def _state_tags(self, record: KeyRecord) -> list[dict[str, str]]:
        values = {TAG_STATE: record.state.value, TAG_KID: record.kid, TAG_ALG: record.alg,
                  TAG_FENCE: str(self.lock.fence)}
        for field, tag in TIME_TAGS.items():
            value = getattr(record, field)
            values[tag] = "" if value is None else repr(value)
        return [{"TagKey": k, "TagValue": v} for k, v in values.items()]

    async def _discard(self, key_id: str, alias: str | None) -> None:
        """A key that never joined the ring: tag it failed, schedule its deletion."""
        await self.client.call("tag_resource", KeyId=key_id,
                               Tags=[{"TagKey": TAG_STATE, "TagValue": FAILED}])
        await self._schedule_deletion(key_id, alias)

    async def _schedule_deletion(self, key_id: str, alias: str | None) -> None:
        if alias is not None:
            try:
                await self.client.call("delete_alias", AliasName=alias)
            except KeyUnavailableError as exc:
                if "NotFoundException" not in str(exc):
                    raise
        try:
            await self.client.call("schedule_key_deletion", KeyId=key_id,
                                   PendingWindowInDays=self.deletion_window_days)
        except KeyUnavailableError as exc:
            if "KMSInvalidStateException" not in str(exc):  # already pending deletion
                raise

