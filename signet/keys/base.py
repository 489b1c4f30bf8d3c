"""The small protocol every key backend implements, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from signet.algorithms import Algorithm
from signet.jwk import PublicKey, public_key_to_jwk
from signet.signatures import SignatureCheck, verifier_for


class KeyBackendError(Exception):
    """Base class of key backend failures."""


class KeyConfigurationError(KeyBackendError):
    """The configuration cannot work; start-up stops with one line naming the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class KeyUnavailableError(KeyBackendError):
    """The key is configured correctly but cannot be used right now (network, throttling)."""


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A public key as verifiers see it; `jwk` is computed once."""

    alg: Algorithm
    public_key: PublicKey
    jwk: dict[str, Any] = field(init=False, repr=False, compare=False)
    # The signer's verify-before-hand-out check, with its padding and hash objects built
    # once per key rather than once per token.
    check: SignatureCheck = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "jwk", public_key_to_jwk(self.public_key, self.alg))
        object.__setattr__(self, "check", verifier_for(self.alg, self.public_key))

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])


class SigningKey(Protocol):
    @property
    def published(self) -> PublishedKey: ...

    async def sign(self, data: bytes) -> bytes:
        """Sign a JWS signing input; returns the signature in JWS form (R||S for ECDSA)."""
        ...


class KeyBackend(Protocol):
    name: str

    async def open(self) -> None:
        """Load or create keys; raise KeyConfigurationError when the settings cannot work."""
        ...

    def signing_key(self) -> SigningKey: ...

    def published_keys(self) -> list[PublishedKey]:
        """Every key verifiers must know, the signing key included."""
        ...

    async def check_reachable(self) -> None:
        """Raise KeyUnavailableError when signing would fail now (drives /readyz)."""
        ...

    async def aclose(self) -> None: ...
