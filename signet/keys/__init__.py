"""Key backends: where private keys live and how they sign. See base.KeyBackend."""

from signet.keys.base import (
    KeyBackend,
    KeyBackendError,
    KeyConfigurationError,
    KeyUnavailableError,
    PublishedKey,
    SigningKey,
)

__all__ = [
    "KeyBackend",
    "KeyBackendError",
    "KeyConfigurationError",
    "KeyUnavailableError",
    "PublishedKey",
    "SigningKey",
]
