"""AWS KMS key backend: the private key never leaves KMS; Signet sends only digests.

Signing uses MessageType=DIGEST: the signing input is hashed here, so tokens never
leave the process and the 4 KB message limit of Sign does not apply.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from cryptography.hazmat.primitives import hashes, serialization

from signet.algorithms import Algorithm, KeyFamily, algorithm_fits_key
from signet.jose import der_to_raw_ecdsa
from signet.keys.base import KeyConfigurationError, KeyUnavailableError, PublishedKey

SETTING = "SIGNET_KMS_KEY_ID"
_REACHABLE_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class KmsSigningKey:
    published: PublishedKey
    key_arn: str
    backend: KmsKeyBackend

    async def sign(self, data: bytes) -> bytes:
        return await self.backend.sign_with(self.key_arn, self.published.alg, data)


def _digest(alg: Algorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg.new_hash())
    h.update(data)
    return h.finalize()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class KmsKeyBackend:
    name = "kms"

    def __init__(self, key_id: str, alg: Algorithm, *, endpoint_url: str | None = None,
                 region: str | None = None, timeout_seconds: float = 5.0,
                 max_concurrency: int = 64, session: aioboto3.Session | None = None) -> None:
        self.key_id = key_id
        self.alg = alg
        self.endpoint_url = endpoint_url
        self.region = region
        self.timeout_seconds = timeout_seconds
        self._session = session or aioboto3.Session()
        # Bounds this process's share of the account-wide KMS Sign quota.
        self._concurrency = asyncio.Semaphore(max_concurrency)
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._signing: KmsSigningKey | None = None
        self._reachable_at = 0.0

    async def open(self) -> None:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()  # no half-open HTTP session left behind
            raise

    async def _open(self) -> None:
        if not self.key_id:
            raise KeyConfigurationError(SETTING, "required when SIGNET_KEY_BACKEND=kms"
                                        " (a key id, key ARN or alias/NAME)")
        config = Config(connect_timeout=self.timeout_seconds, read_timeout=self.timeout_seconds,
                        retries={"mode": "standard", "max_attempts": 3})
        try:
            self._client = await self._stack.enter_async_context(self._session.client(
                "kms", endpoint_url=self.endpoint_url, region_name=self.region, config=config))
        except NoRegionError:
            raise KeyConfigurationError("SIGNET_KMS_REGION", "no AWS region configured"
                                        " (set SIGNET_KMS_REGION or AWS_REGION)") from None
        meta = await self._call_at_startup("describe_key", KeyId=self.key_id)
        metadata = meta["KeyMetadata"]
        self._check_metadata(metadata)
        response = await self._call_at_startup("get_public_key", KeyId=metadata["Arn"])
        public_key = serialization.load_der_public_key(response["PublicKey"])
        if not algorithm_fits_key(self.alg, public_key):
            raise KeyConfigurationError(
                "SIGNET_SIGNING_ALG", f"{self.alg.name} does not fit the public key of {self.key_id}")
        published = PublishedKey(self.alg, public_key)  # type: ignore[arg-type]
        self._signing = KmsSigningKey(published, metadata["Arn"], self)
        self._reachable_at = time.monotonic()

    def _check_metadata(self, metadata: dict[str, Any]) -> None:
        if metadata.get("KeyUsage") != "SIGN_VERIFY":
            raise KeyConfigurationError(
                SETTING, f"{self.key_id} has KeyUsage {metadata.get('KeyUsage')}, not SIGN_VERIFY")
        if metadata.get("KeyState") != "Enabled":
            raise KeyConfigurationError(SETTING, f"{self.key_id} is {metadata.get('KeyState')}")
        spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
        if spec not in self.alg.kms_key_specs:
            raise KeyConfigurationError(
                "SIGNET_SIGNING_ALG", f"{self.alg.name} needs a KMS key of spec"
                f" {' or '.join(self.alg.kms_key_specs)}; {self.key_id} is {spec}")
        if self.alg.kms_signing_algorithm not in metadata.get("SigningAlgorithms", []):
            raise KeyConfigurationError(
                "SIGNET_SIGNING_ALG", f"{self.key_id} does not offer {self.alg.kms_signing_algorithm}")

    async def _call_at_startup(self, operation: str, **params: Any) -> dict[str, Any]:
        """Translate what can go wrong at start-up into one line naming the setting to fix."""
        try:
            result: dict[str, Any] = await getattr(self._client, operation)(**params)
            return result
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("NotFoundException", "InvalidArnException", "ValidationException"):
                raise KeyConfigurationError(SETTING, f"KMS key {self.key_id!r} not found"
                                            f" ({code})") from None
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise KeyConfigurationError(SETTING, f"access to {self.key_id!r} denied ({code});"
                                            " check the issuer's IAM policy") from None
            raise KeyConfigurationError(SETTING, f"KMS {operation} failed: {code}") from None
        except NoCredentialsError:
            raise KeyConfigurationError("AWS_ACCESS_KEY_ID", "no AWS credentials found") from None
        except EndpointConnectionError:
            raise KeyConfigurationError("SIGNET_KMS_ENDPOINT_URL", "KMS unreachable at"
                                        f" {self.endpoint_url or 'the AWS default endpoint'}") from None
        except BotoCoreError as exc:
            raise KeyConfigurationError("SIGNET_KMS_ENDPOINT_URL", f"KMS call failed: {exc}") from None

    async def sign_with(self, key_arn: str, alg: Algorithm, data: bytes) -> bytes:
        try:
            async with self._concurrency:
                response = await self._client.sign(
                    KeyId=key_arn, Message=_digest(alg, data), MessageType="DIGEST",
                    SigningAlgorithm=alg.kms_signing_algorithm)
        except ClientError as exc:
            raise KeyUnavailableError(f"KMS Sign failed: {_error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise KeyUnavailableError(f"KMS Sign failed: {type(exc).__name__}") from exc
        self._reachable_at = time.monotonic()
        signature: bytes = response["Signature"]
        if alg.family is KeyFamily.EC:
            return der_to_raw_ecdsa(signature, alg.coordinate_size)
        return signature

    def signing_key(self) -> KmsSigningKey:
        assert self._signing is not None, "open() first"
        return self._signing

    def published_keys(self) -> list[PublishedKey]:
        return [self.signing_key().published]

    async def check_reachable(self) -> None:
        """DescribeKey at most every few seconds, so readiness probes cost KMS almost nothing."""
        if time.monotonic() - self._reachable_at < _REACHABLE_CACHE_SECONDS:
            return
        try:
            meta = await self._client.describe_key(KeyId=self.signing_key().key_arn)
        except (ClientError, BotoCoreError) as exc:
            raise KeyUnavailableError(f"KMS key unreachable: {type(exc).__name__}") from exc
        state = meta["KeyMetadata"].get("KeyState")
        if state != "Enabled":
            raise KeyUnavailableError(f"KMS key is {state}")
        self._reachable_at = time.monotonic()

    async def aclose(self) -> None:
        await self._stack.aclose()
