"""Build the configured key backend from settings."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from signet.algorithms import get_algorithm
from signet.keys.base import KeyBackend

from ..settings import ConfigurationError, Settings


def kms_ring_name(settings: Settings) -> str:
    """SIGNET_KMS_RING, else the issuer's host and path: aliases allow [A-Za-z0-9/_-]."""
    if settings.kms_ring:
        return settings.kms_ring
    parts = urlsplit(settings.issuer_url)
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{parts.netloc}{parts.path}").strip("-")


def build_backend(settings: Settings) -> KeyBackend:
    root = _root_backend(settings)
    if settings.signing_mode == "delegated":
        from .delegated import delegated_backend

        return delegated_backend(settings, root)
    return root


def _root_backend(settings: Settings) -> KeyBackend:
    """The key that signs tokens, or in delegated mode attests the keys that do."""
    alg = get_algorithm(settings.root_signing_alg)
    if settings.key_backend == "kms":
        return _kms_backend(settings)
    from signet.keys.local import LocalKeyBackend

    return LocalKeyBackend(settings.local_key_dir, alg, settings.rsa_key_bits)


def _kms_backend(settings: Settings) -> KeyBackend:
    # aioboto3 and redis are imported only when KMS is used
    from signet.keys.kms import KmsKeyBackend
    from signet.keys.kms_client import KmsClient

    alg = get_algorithm(settings.root_signing_alg)  # Settings refuse one KMS cannot sign
    client = KmsClient(endpoint_url=settings.kms_endpoint_url, region=settings.kms_region,
                       timeout_seconds=settings.kms_timeout_seconds,
                       deadline_seconds=settings.kms_deadline_seconds,
                       max_concurrency=settings.kms_max_concurrency)
    if settings.kms_key_id:
        return KmsKeyBackend(settings.kms_key_id, alg, client=client)
    if not settings.redis_url:
        raise ConfigurationError(
            "SIGNET_REDIS_URL: required with SIGNET_KEY_BACKEND=kms and no SIGNET_KMS_KEY_ID"
            " (Signet then creates and rotates its own KMS keys, and replicas take turns through"
            " a Redis lock); or set SIGNET_KMS_KEY_ID to sign with one fixed key")
    from signet.keys.kms_ring import KmsRingBackend
    from signet.keys.ringlock import RedisRingLock
    from signet.redis_url import redis_from_url

    ring = kms_ring_name(settings)
    # A bounded timeout: a Redis that stops answering pauses rotation instead of hanging it.
    lock_name = f"{settings.redis_prefix}kms-ring:{ring}:lock"  # "signet:kms-ring:..." by default
    lock = RedisRingLock(redis_from_url(settings.redis_url, timeout=5), lock_name)
    return KmsRingBackend(ring, alg, client=client, lock=lock,
                          rsa_key_spec=f"RSA_{settings.rsa_key_bits}",
                          deletion_window_days=settings.kms_deletion_window_days,
                          issuer_principal=settings.kms_issuer_principal,
                          admin_principal=settings.kms_admin_principal)
