"""Signing keys wired into the service: the configured backend, delegated signing,
the rotation loop and the published JWKS."""
