"""One aioboto3 KMS client per issuer process, with the error translation both KMS
backends (fixed key and managed ring) share.

Start-up failures become KeyConfigurationError naming the setting to fix; failures
while serving become KeyUnavailableError (the issuer answers 503, never 500).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
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
from cryptography.hazmat.primitives import hashes

from signet.algorithms import Algorithm, KeyFamily
from signet.jose import der_to_raw_ecdsa
from signet.keys.base import KeyConfigurationError, KeyUnavailableError

KEY_ID_SETTING = "SIGNET_KMS_KEY_ID"
REACHABLE_CACHE_SECONDS = 5.0  # readiness probes cost KMS one DescribeKey per key this often

# Told of every call made while serving: (operation, seconds, AWS error code or None).
# The issuer's metrics listen here; the library itself needs no metrics package.
CallObserver = Callable[[str, float, str | None], None]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def digest(alg: Algorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg.new_hash())
    h.update(data)
    return h.finalize()


class KmsClient:
    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 timeout_seconds: float = 5.0, deadline_seconds: float = 8.0,
                 max_concurrency: int = 64, session: aioboto3.Session | None = None,
                 sts_endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        # STS (who the issuer is, for managed keys' policy) is not KMS: its endpoint is AWS's
        # own unless given here or in AWS_ENDPOINT_URL_STS, never SIGNET_KMS_ENDPOINT_URL.
        self.sts_endpoint_url = sts_endpoint_url
        self.region = region
        self.timeout_seconds = timeout_seconds
        # botocore retries throttling and 5xx with backoff and jitter; this bounds the whole.
        self.deadline_seconds = deadline_seconds
        self._session = session or aioboto3.Session()
        # Bounds this process's share of the account-wide KMS request quotas.
        self._concurrency = asyncio.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency
        self._stack = AsyncExitStack()
        self.kms: Any = None
        self.tagging: Any = None
        self.sts: Any = None
        self._enabled_at: dict[str, float] = {}  # key id -> when DescribeKey last said Enabled
        self.observer: CallObserver | None = None

    async def open(self) -> None:
        # The connection pool must be as wide as the concurrency bound (botocore's default
        # of 10 would quietly serialise the 11th concurrent Sign).
        config = Config(connect_timeout=self.timeout_seconds, read_timeout=self.timeout_seconds,
                        retries={"mode": "standard", "total_max_attempts": 3},
                        max_pool_connections=self.max_concurrency)
        try:
            self.kms = await self._stack.enter_async_context(self._session.client(
                "kms", endpoint_url=self.endpoint_url, region_name=self.region, config=config))
            self.tagging = await self._stack.enter_async_context(self._session.client(
                "resourcegroupstaggingapi", endpoint_url=self.endpoint_url,
                region_name=self.region, config=config))
            self.sts = await self._stack.enter_async_context(self._session.client(
                "sts", endpoint_url=self.sts_endpoint_url, region_name=self.region, config=config))
        except NoRegionError:
            await self.aclose()
            raise KeyConfigurationError("SIGNET_KMS_REGION", "no AWS region configured"
                                        " (set SIGNET_KMS_REGION or AWS_REGION)") from None

    async def aclose(self) -> None:
        await self._stack.aclose()

    async def at_startup(self, operation: str, setting: str = KEY_ID_SETTING,
                         **params: Any) -> dict[str, Any]:
        """Call KMS; any failure is a configuration error naming `setting`."""
        try:
            result: dict[str, Any] = await getattr(self.kms, operation)(**params)
            return result
        except ClientError as exc:
            code = error_code(exc)
            key = params.get("KeyId", "")
            if code in ("NotFoundException", "InvalidArnException", "ValidationException"):
                raise KeyConfigurationError(setting, f"KMS key {key!r} not found ({code})") from None
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise KeyConfigurationError(setting, f"KMS {operation} denied ({code});"
                                            " check the issuer's IAM policy") from None
            raise KeyConfigurationError(setting, f"KMS {operation} failed: {code}") from None
        except NoCredentialsError:
            raise KeyConfigurationError("AWS_ACCESS_KEY_ID", "no AWS credentials found") from None
        except EndpointConnectionError:
            raise KeyConfigurationError("SIGNET_KMS_ENDPOINT_URL", "KMS unreachable at"
                                        f" {self.endpoint_url or 'the AWS default endpoint'}") from None
        except BotoCoreError as exc:
            raise KeyConfigurationError("SIGNET_KMS_ENDPOINT_URL", f"KMS call failed: {exc}") from None

    async def call(self, operation: str, client: str = "kms", **params: Any) -> dict[str, Any]:
        """Call KMS (or the tagging API, or STS) while serving; failures are KeyUnavailableError."""
        started, code = time.perf_counter(), None
        try:
            async with asyncio.timeout(self.deadline_seconds), self._concurrency:
                result: dict[str, Any] = await getattr(getattr(self, client), operation)(**params)
                return result
        except TimeoutError as exc:
            code = "Timeout"
            raise KeyUnavailableError(f"KMS {operation} exceeded {self.deadline_seconds:g}s") from exc
        except ClientError as exc:
            code = error_code(exc)
            raise KeyUnavailableError(f"KMS {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            code = type(exc).__name__
            raise KeyUnavailableError(f"KMS {operation} failed: {code}") from exc
        finally:
            if self.observer is not None:
                self.observer(operation, time.perf_counter() - started, code)

    async def check_enabled(self, key_id: str) -> None:
        """Raise KeyUnavailableError unless `key_id` is reachable and Enabled; DescribeKey at
        most every REACHABLE_CACHE_SECONDS per key, so readiness probes cost KMS almost nothing."""
        if time.monotonic() - self._enabled_at.get(key_id, float("-inf")) < REACHABLE_CACHE_SECONDS:
            return
        meta = await self.call("describe_key", KeyId=key_id)
        state = meta["KeyMetadata"].get("KeyState")
        if state != "Enabled":
            raise KeyUnavailableError(f"KMS key is {state}")
        self._enabled_at[key_id] = time.monotonic()

    async def sign(self, key_id: str, alg: Algorithm, data: bytes) -> bytes:
        """Sign the digest of a JWS signing input (MessageType=DIGEST); JWS-form signature."""
        response = await self.call("sign", KeyId=key_id, Message=digest(alg, data),
                                   MessageType="DIGEST", SigningAlgorithm=alg.kms_signing_algorithm)
        signature: bytes = response["Signature"]
        if alg.family is KeyFamily.EC:
            return der_to_raw_ecdsa(signature, alg.coordinate_size)
        return signature
