"""The HTTP layer: discovery, conditional JWKS requests, Cache-Control, and the URL policy.

Only configured URLs are ever fetched (never one named by a token), only over https
(plain http on loopback for development), without following redirects, with bounded
timeouts and a bounded response size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import msgspec

from signet.bounded_file import FileReadError, read_bounded
from signet.urls import is_loopback_host

DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_DOCUMENT_BYTES = 512 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-store|no-cache)(?:$|[,\s=])", re.IGNORECASE)


class FetchError(Exception):
    """The issuer could not be reached or answered with something unusable."""


@dataclass(frozen=True, slots=True)
class Fetched:
    document: str | None  # None: 304 Not Modified
    etag: str | None
    max_age: float | None  # from Cache-Control; None when the issuer gave none




def url_problem(url: str) -> str | None:
    """Why a URL may not be fetched, or None: https anywhere, http only on loopback."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None
    return f"{url!r} must be an https URL (http is allowed only on loopback)"


def jwks_uri_problem(issuer: str, jwks_uri: str, allowed_hosts: tuple[str, ...] = ()) -> str | None:
    """Why a discovery document's `jwks_uri` may not be followed, or None.

    A compromised discovery document must not send verifiers elsewhere: the `jwks_uri` of
    an https issuer is https on the issuer's own host (or a host the operator allowed);
    plain http only for an http issuer on loopback (development), on loopback too.
    """
    problem = url_problem(jwks_uri)
    if problem:
        return problem
    issuer_parts, jwks_parts = urlsplit(issuer), urlsplit(jwks_uri)
    host = (jwks_parts.hostname or "").lower()
    if issuer_parts.scheme == "https" and jwks_parts.scheme != "https":
        return f"{jwks_uri!r} must be https, as the issuer is"
    if host == (issuer_parts.hostname or "").lower() or host in allowed_hosts:
        return None
    if issuer_parts.scheme == "http" and is_loopback_host(host):
        return None
    return (f"{jwks_uri!r} is not on the issuer's host {issuer_parts.hostname!r}"
            " (allow other hosts with SIGNET_VERIFIER_JWKS_HOSTS)")


def cache_max_age(cache_control: str | None) -> float | None:
    """Seconds from `Cache-Control`: `no-store`/`no-cache` give 0, no directive gives None."""
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0.0
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


class JwksFetcher:
    """GETs with one httpx client; create and use it on one event loop (the verifier's)."""

    def __init__(self, timeout: float, jwks_hosts: tuple[str, ...] = ()) -> None:
        self._timeout = timeout
        self._jwks_hosts = tuple(host.lower() for host in jwks_hosts)
        self._http: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        # Created on first use: building its TLS context costs milliseconds.
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout), follow_redirects=False, trust_env=False,
                headers={"Accept": "application/json", "User-Agent": "signet-verifier"})
        return self._http

    async def discover_jwks_uri(self, issuer: str) -> str:
        """OpenID discovery; the document must name exactly this issuer (OIDC Discovery 4.3)."""
        body = await self._get(issuer.rstrip("/") + DISCOVERY_PATH, None)
        try:
            metadata = msgspec.json.decode(body.document or b"")
        except (msgspec.DecodeError, ValueError, RecursionError):
            raise FetchError("discovery document is not JSON") from None
        if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
            raise FetchError("discovery document names a different issuer")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError("discovery document has no jwks_uri")
        problem = jwks_uri_problem(issuer, jwks_uri, self._jwks_hosts)
        if problem:
            raise FetchError(f"discovery jwks_uri refused: {problem}")
        return jwks_uri

    async def fetch_jwks(self, url: str, etag: str | None) -> Fetched:
        return await self._get(url, etag)

    async def _get(self, url: str, etag: str | None) -> Fetched:
        headers = {"If-None-Match": etag} if etag else {}
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and etag:
                    body = None
                elif response.status_code == 200:
                    body = await _read_bounded(response)
                else:
                    raise FetchError(f"GET {url} answered {response.status_code}")
                return Fetched(body, response.headers.get("etag"),
                               cache_max_age(response.headers.get("cache-control")))
        except httpx.HTTPError as exc:
            raise FetchError(f"GET {url} failed: {type(exc).__name__}") from None

    def read_jwks_file(self, path: str) -> Fetched:
        """A JWKS from a local file (an unreachable issuer's keys, copied by the operator)."""
        try:
            data = read_bounded(path, MAX_DOCUMENT_BYTES)
        except FileReadError as exc:
            raise FetchError(f"JWKS file: {exc}") from None
        try:
            return Fetched(data.decode("utf-8"), None, None)
        except UnicodeDecodeError:
            raise FetchError("JWKS file is not UTF-8") from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


async def _read_bounded(response: httpx.Response) -> str:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise FetchError(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError("document is not UTF-8") from None
