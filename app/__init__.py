"""The deployable Signet issuer service (FastAPI). The reusable library is `signet`."""
