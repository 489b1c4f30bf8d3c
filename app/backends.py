"""Build the configured key backend from settings."""

from __future__ import annotations

from app.settings import Settings
from signet.algorithms import get_algorithm
from signet.keys.base import KeyBackend


def build_backend(settings: Settings) -> KeyBackend:
    alg = get_algorithm(settings.signing_alg)
    if settings.key_backend == "kms":
        from signet.keys.kms import KmsKeyBackend  # aioboto3 is imported only when used

        return KmsKeyBackend(
            settings.kms_key_id, alg,
            endpoint_url=settings.kms_endpoint_url, region=settings.kms_region,
            timeout_seconds=settings.kms_timeout_seconds,
            max_concurrency=settings.kms_max_concurrency,
        )
    from signet.keys.local import LocalKeyBackend

    return LocalKeyBackend(settings.local_key_dir, alg, settings.local_rsa_key_bits)
