"""Signet: sign centrally (AWS KMS), verify everywhere (JWKS cached in Redis and memory).

Installed as the distribution `signet-jwt` (the package index's `signet` is another project).
"""

__version__ = "0.1.0"

from signet._shared_name import warn_if_shared

warn_if_shared()
