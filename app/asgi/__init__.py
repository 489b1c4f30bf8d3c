"""ASGI plumbing shared by the issuer's routes: the direct hot paths, request ids, size
limits, the OpenAPI document and the FastAPI subclass both services use."""
