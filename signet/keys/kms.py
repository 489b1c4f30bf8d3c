"""AWS KMS, one fixed key (SIGNET_KMS_KEY_ID): the private key never leaves KMS.

For keys that Signet creates and rotates itself, see kms_ring.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aioboto3
from cryptography.hazmat.primitives import serialization

from signet.algorithms import Algorithm, algorithm_fits_key
from signet.keys.base import KeyConfigurationError, PublishedKey
from signet.keys.kms_client import KEY_ID_SETTING, KmsClient


@dataclass(frozen=True, slots=True)
class KmsSigningKey:
    published: PublishedKey
    key_id: str
    client: KmsClient

    async def sign(self, data: bytes) -> bytes:
        return await self.client.sign(self.key_id, self.published.alg, data)


def check_signing_key(metadata: dict[str, Any], alg: Algorithm, name: str) -> None:
    """The key must be an enabled SIGN_VERIFY key whose spec fits `alg`."""
    if metadata.get("KeyUsage") != "SIGN_VERIFY":
        raise KeyConfigurationError(
            KEY_ID_SETTING, f"{name} has KeyUsage {metadata.get('KeyUsage')}, not SIGN_VERIFY")
    if metadata.get("KeyState") != "Enabled":
        raise KeyConfigurationError(KEY_ID_SETTING, f"{name} is {metadata.get('KeyState')}")
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if spec not in alg.kms_key_specs:
        raise KeyConfigurationError(
            "SIGNET_SIGNING_ALG", f"{alg.name} needs a KMS key of spec"
            f" {' or '.join(alg.kms_key_specs)}; {name} is {spec}")
    if alg.kms_signing_algorithm not in metadata.get("SigningAlgorithms", []):
        raise KeyConfigurationError("SIGNET_SIGNING_ALG",
                                    f"{name} does not offer {alg.kms_signing_algorithm}")


async def fetch_published_key(client: KmsClient, key_id: str, alg: Algorithm,
                              *, at_startup: bool) -> PublishedKey:
    call = client.at_startup if at_startup else client.call
    response = await call("get_public_key", KeyId=key_id)
    public_key = serialization.load_der_public_key(response["PublicKey"])
    if not algorithm_fits_key(alg, public_key):
        raise KeyConfigurationError("SIGNET_SIGNING_ALG",
                                    f"{alg.name} does not fit the public key of {key_id}")
    return PublishedKey(alg, public_key)  # type: ignore[arg-type]


class KmsKeyBackend:
    name = "kms"

    def __init__(self, key_id: str, alg: Algorithm, *, endpoint_url: str | None = None,
                 region: str | None = None, timeout_seconds: float = 5.0,
                 max_concurrency: int = 64, session: aioboto3.Session | None = None,
                 client: KmsClient | None = None) -> None:
        self.key_id = key_id
        self.alg = alg
        self.client = client or KmsClient(endpoint_url=endpoint_url, region=region,
                                          timeout_seconds=timeout_seconds,
                                          max_concurrency=max_concurrency, session=session)
        self._signing: KmsSigningKey | None = None

    async def open(self) -> None:
        if not self.key_id:
            raise KeyConfigurationError(KEY_ID_SETTING, "empty: name a key id, key ARN or alias/NAME")
        await self.client.open()
        try:
            meta = await self.client.at_startup("describe_key", KeyId=self.key_id)
            metadata = meta["KeyMetadata"]
            check_signing_key(metadata, self.alg, self.key_id)
            published = await fetch_published_key(self.client, metadata["Arn"], self.alg,
                                                  at_startup=True)
        except BaseException:
            await self.client.aclose()  # no half-open HTTP session left behind
            raise
        self._signing = KmsSigningKey(published, metadata["Arn"], self.client)

    def signing_key(self) -> KmsSigningKey:
        assert self._signing is not None, "open() first"
        return self._signing

    def published_keys(self) -> list[PublishedKey]:
        return [self.signing_key().published]

    async def check_reachable(self) -> None:
        await self.client.check_enabled(self.signing_key().key_id)

    async def aclose(self) -> None:
        await self.client.aclose()
