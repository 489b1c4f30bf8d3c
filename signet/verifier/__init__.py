"""Verify Signet access tokens locally: keys cached in memory and shared through Redis.

Importable with only the `[verifier]` extra (cryptography, httpx, redis, msgspec, pybase64). The
FastAPI dependencies live in `signet.verifier.fastapi` and import FastAPI themselves.
"""

from signet.verifier import _preflight  # noqa: F401 - first: a missing extra is named, not hit
from signet.verifier.claims import RFC9068_REQUIRED_CLAIMS, Claims
from signet.verifier.errors import (
    AlgorithmMismatch,
    BadSignature,
    ForbiddenHeader,
    InsufficientScope,
    InvalidClaim,
    IssuedInFuture,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    NotAnAccessToken,
    SignetError,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TokenTooLarge,
    UnknownKey,
    UnsupportedAlgorithm,
    UnsupportedCritical,
    UntrustedIssuer,
    UnusableKey,
    VerifierConfigError,
    WrongAudience,
    WrongType,
)
from signet.verifier.middleware import SignetAuthMiddleware
from signet.verifier.profiles import PROFILES, IssuerProfile
from signet.verifier.readiness import KeyStatus, Readiness
from signet.verifier.settings import VerifierSettings
from signet.verifier.stats import VerificationCounts, VerifierStats
from signet.verifier.trusted import TrustedIssuer
from signet.verifier.verifier import Verifier

__all__ = [
    "PROFILES",
    "RFC9068_REQUIRED_CLAIMS",
    "AlgorithmMismatch",
    "BadSignature",
    "Claims",
    "ForbiddenHeader",
    "InsufficientScope",
    "InvalidClaim",
    "IssuedInFuture",
    "IssuerProfile",
    "KeyStatus",
    "KeysUnavailable",
    "MalformedToken",
    "MissingClaim",
    "NotAnAccessToken",
    "Readiness",
    "SignetAuthMiddleware",
    "SignetError",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenTooLarge",
    "TrustedIssuer",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "UnsupportedCritical",
    "UntrustedIssuer",
    "UnusableKey",
    "VerificationCounts",
    "Verifier",
    "VerifierConfigError",
    "VerifierSettings",
    "VerifierStats",
    "WrongAudience",
    "WrongType",
]
