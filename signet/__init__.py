"""Signet: sign centrally (AWS KMS), verify everywhere (JWKS cached in Redis and memory)."""

__version__ = "0.1.0"
