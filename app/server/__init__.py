"""Running the issuer under uvicorn: the bounded request head and read timeout, graceful shutdown."""
