"""One exception class per reason a token is refused, each with a machine-readable `code`.

`str(error)` may carry detail for logs (never the token itself); `description` is the fixed,
attacker-independent text safe to put in a `WWW-Authenticate` header.
"""

from __future__ import annotations


class SignetError(Exception):
    """Base of everything the verifier raises for a token it will not accept."""

    code = "invalid_token"
    description = "the access token is invalid"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.description)


class TokenError(SignetError):
    """The token itself is unacceptable: the caller should get a new one (HTTP 401)."""


class MalformedToken(TokenError):
    code = "malformed"
    description = "the access token is not a well-formed JWS"


class TokenTooLarge(MalformedToken):
    code = "too_large"
    description = "the access token is too large"


class UnsupportedAlgorithm(TokenError):
    code = "unsupported_alg"
    description = "the token's algorithm is not accepted"


class AlgorithmMismatch(TokenError):
    code = "alg_mismatch"
    description = "the token's algorithm does not match its key"


class ForbiddenHeader(TokenError):
    code = "forbidden_header"
    description = "the token header carries a parameter that is never honoured"


class UnsupportedCritical(TokenError):
    code = "unsupported_crit"
    description = "the token requires an extension this verifier does not support"


class WrongType(TokenError):
    code = "wrong_typ"
    description = "the token's typ header is not one its issuer's access tokens carry"


class UntrustedIssuer(TokenError):
    code = "wrong_issuer"
    description = "the token's issuer is not trusted"


class UnknownKey(TokenError):
    code = "unknown_kid"
    description = "the token was signed by an unknown key"


class UnusableKey(UnknownKey):
    """The issuer publishes a key by this kid, but this verifier cannot use it (the reason
    says why: an algorithm outside the allow-list, a key without `alg` of a type no
    configured algorithm fits, a curve Signet does not support...)."""

    code = "unusable_key"
    description = "the issuer's key for this token cannot be used by this verifier"


class BadSignature(TokenError):
    code = "bad_signature"
    description = "the token signature is invalid"


class InvalidClaim(TokenError):
    code = "invalid_claim"
    description = "a token claim has an invalid type or value"


class MissingClaim(InvalidClaim):
    code = "missing_claim"
    description = "the token lacks a required claim"


class NotAnAccessToken(TokenError):
    """Signed by a trusted issuer, but not one of its access tokens (an ID token, say)."""

    code = "not_access_token"
    description = "the token is not an access token of its issuer"


class WrongAudience(TokenError):
    code = "wrong_audience"
    description = "the token is not meant for this audience"


class TokenExpired(TokenError):
    code = "expired"
    description = "the access token expired"


class TokenNotYetValid(TokenError):
    code = "not_yet_valid"
    description = "the access token is not valid yet"


class IssuedInFuture(TokenNotYetValid):
    code = "iat_in_future"
    description = "the access token was issued in the future"


class KeysUnavailable(SignetError):
    """No usable keys for a trusted issuer: not the token's fault (HTTP 503, retry later)."""

    code = "keys_unavailable"
    description = "the issuer's signing keys are unavailable"


class InsufficientScope(SignetError):
    """A valid token without the scopes a route requires (HTTP 403)."""

    code = "insufficient_scope"
    description = "the access token lacks a required scope"


class VerifierConfigError(ValueError):
    """Verifier settings that cannot work; str() is one line that starts with the variable."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


ALL_ERRORS: tuple[type[SignetError], ...] = (
    MalformedToken, TokenTooLarge, UnsupportedAlgorithm, AlgorithmMismatch, ForbiddenHeader,
    UnsupportedCritical, WrongType, UntrustedIssuer, UnknownKey, UnusableKey, BadSignature,
    InvalidClaim, MissingClaim, NotAnAccessToken, WrongAudience, TokenExpired, TokenNotYetValid,
    IssuedInFuture, KeysUnavailable, InsufficientScope,
)
