"""Tokens for calling services: an `httpx.Auth` that gets, caches and refreshes Signet tokens.

    auth = SignetAuth("https://signet.example/token", "billing", secret, audience="https://api")
    httpx.get("https://api/invoices", auth=auth)                  # sync
    async with httpx.AsyncClient(auth=auth) as http: ...           # async

- One token is cached per `SignetAuth` and shared by every request and thread.
- It is refreshed `refresh_margin` seconds before it expires (at most halfway through
  its life). While a refresh is in flight, callers holding a still-valid token go on
  using it; callers without one wait for that single request: 50 concurrent calls
  make one token request.
- A 401 from the resource server gets one retry with a new token (unless another
  caller already replaced the rejected one).
- If a refresh fails while the cached token is still valid, the cached token is used.

Without a secret: `SignetAuth.from_assertion_file(token_url, path)` presents the workload
identity token in `path` (a Kubernetes projected service-account token, a JWT-SVID file)
as the client assertion (federated client authentication), re-reading the file whenever
it changed: the kubelet rewrites it before it expires.

Needs only httpx (the `[verifier]` extra). Async use: one `SignetAuth` per event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_BYTES = 65536
DEFAULT_REFRESH_MARGIN = 60.0
EXPIRY_SAFETY_SECONDS = 5.0  # transit and clock skew: stop presenting a token this long before exp


class TokenRequestError(Exception):
    """The token endpoint refused (RFC 6749 section 5.2 error) or answered nonsense."""

    def __init__(self, status: int, error: str, description: str = "",
                 retry_after: int | None = None) -> None:
        super().__init__(f"token request failed ({status} {error}): {description}".rstrip(": "))
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: str
    refresh_at: float  # monotonic clock
    usable_until: float

    @classmethod
    def from_response(cls, body: dict[str, Any], requested_at: float, margin: float) -> CachedToken:
        lifetime = float(body["expires_in"])
        return cls(str(body["access_token"]), requested_at + lifetime - min(margin, lifetime / 2),
                   requested_at + lifetime - min(EXPIRY_SAFETY_SECONDS, lifetime / 10))


def token_request_parts(client_id: str, client_secret: str, *, scope: str | None = None,
                        audience: str | None = None, method: str = "client_secret_basic",
                        ) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    """The form and the auth of a client credentials request."""
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    if audience:
        form["audience"] = audience
    if method == "client_secret_post":
        return {**form, "client_id": client_id, "client_secret": client_secret}, None
    if method != "client_secret_basic":
        raise ValueError(f"unsupported client authentication method {method!r}")
    # RFC 6749 section 2.3.1 form-encodes both parts; generated ids and secrets need no escaping.
    return form, httpx.BasicAuth(client_id, client_secret)


class AssertionFile:
    """A token file that another party rewrites (the kubelet, a SPIRE helper): read again
    whenever its inode, size or mtime changed. `stat` follows the symlink Kubernetes swaps
    on each update, so a rewrite is always seen."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._signature: tuple[int, int, int] | None = None
        self._value = ""
        self._lock = threading.Lock()
        self.reads = 0  # how many times the file was read (not just stat-ed)

    def current(self) -> str:
        """The token now in the file; OSError or ValueError when there is none."""
        st = self.path.stat()
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if signature != self._signature:
                with open(self.path, "rb") as handle:
                    data = handle.read(MAX_ASSERTION_BYTES + 1)
                if len(data) > MAX_ASSERTION_BYTES:
                    raise ValueError(f"{self.path}: larger than {MAX_ASSERTION_BYTES} bytes")
                value = data.decode("ascii", "replace").strip()
                if not value:
                    raise ValueError(f"{self.path}: empty")
                self._value, self._signature = value, signature
                self.reads += 1
            return self._value


def assertion_form(assertion: str, *, client_id: str | None = None, scope: str | None = None,
                   audience: str | None = None) -> dict[str, str]:
    """The form of a client credentials request authenticated by a client assertion."""
    form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion}
    for name, value in (("client_id", client_id), ("scope", scope), ("audience", audience)):
        if value:
            form[name] = value
    return form


def parse_token_response(response: httpx.Response) -> dict[str, Any]:
    """The token response body, or TokenRequestError with the server's error code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and "access_token" in body \
            and body.get("token_type", "").lower() == "bearer" and "expires_in" in body:
        return body
    retry_after = response.headers.get("retry-after")
    if isinstance(body, dict) and "error" in body:
        raise TokenRequestError(response.status_code, str(body["error"]),
                                str(body.get("error_description", "")),
                                int(retry_after) if retry_after and retry_after.isdigit() else None)
    raise TokenRequestError(response.status_code, "invalid_response", "not a token response")


def fetch_token(token_url: str, client_id: str, client_secret: str, *, scope: str | None = None,
                audience: str | None = None, method: str = "client_secret_basic",
                timeout: float = 10.0) -> dict[str, Any]:
    """One token request (what `signet token` does); raises TokenRequestError."""
    form, auth = token_request_parts(client_id, client_secret, scope=scope, audience=audience,
                                     method=method)
    return _post_sync(token_url, form, auth, timeout)


def fetch_token_with_assertion(token_url: str, assertion: str, *, client_id: str | None = None,
                               scope: str | None = None, audience: str | None = None,
                               timeout: float = 10.0) -> dict[str, Any]:
    """One token request authenticated by a client assertion; raises TokenRequestError."""
    return _post_sync(token_url, assertion_form(assertion, client_id=client_id, scope=scope,
                                                audience=audience), None, timeout)


def _post_sync(url: str, form: dict[str, str], auth: httpx.BasicAuth | None,
               timeout: float) -> dict[str, Any]:
    with httpx.Client(timeout=timeout) as http:
        return parse_token_response(http.post(url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT))


async def _post_async(url: str, form: dict[str, str], auth: httpx.BasicAuth | None,
                      seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=seconds) as http:
        return parse_token_response(await http.post(url, data=form,
                                                    auth=auth or httpx.USE_CLIENT_DEFAULT))


class SignetAuth(httpx.Auth):
    requires_request_body = True  # the body is re-sent on the one retry after a 401

    def __init__(self, token_url: str, client_id: str, client_secret: str, *,
                 scope: str | None = None, audience: str | None = None,
                 method: str = "client_secret_basic", refresh_margin: float = DEFAULT_REFRESH_MARGIN,
                 timeout: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._form, self._basic = token_request_parts(client_id, client_secret, scope=scope,
                                                      audience=audience, method=method)
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self._clock = clock
        self._token: CachedToken | None = None
        self._thread_lock = threading.Lock()
        self._async_lock = asyncio.Lock()
        self.token_requests = 0  # how many token requests this auth has sent
        self.assertion_file: AssertionFile | None = None

    @classmethod
    def from_assertion_file(cls, token_url: str, path: str | os.PathLike[str], *,
                            client_id: str | None = None, scope: str | None = None,
                            audience: str | None = None, refresh_margin: float = DEFAULT_REFRESH_MARGIN,
                            timeout: float = 10.0,
                            clock: Callable[[], float] = time.monotonic) -> SignetAuth:
        """Authenticate with the workload identity token in `path`, re-read when it changes.
        `client_id` only to choose among several clients declaring the same identity."""
        auth = cls(token_url, client_id or "", "", scope=scope, audience=audience,
                   refresh_margin=refresh_margin, timeout=timeout, clock=clock)
        auth.assertion_file = AssertionFile(path)
        auth._form, auth._basic = assertion_form("", client_id=client_id, scope=scope,
                                                 audience=audience), None
        return auth

    def _request_form(self) -> dict[str, str]:
        if self.assertion_file is None:
            return self._form
        return {**self._form, "client_assertion": self.assertion_file.current()}

    # -- when to refresh ----------------------------------------------------------------
    def _current(self, rejected: str | None, *, fresh: bool) -> str | None:
        token, now = self._token, self._clock()
        if token is None or token.value == rejected:
            return None
        return token.value if now < (token.refresh_at if fresh else token.usable_until) else None

    def _store(self, body: dict[str, Any], requested_at: float) -> str:
        self._token = CachedToken.from_response(body, requested_at, self.refresh_margin)
        return self._token.value

    def _without_request(self, rejected: str | None, refreshing: bool) -> str | None:
        """A token that needs no new request: fresh, or still valid while another caller refreshes."""
        if (value := self._current(rejected, fresh=True)) is not None:
            return value
        return self._current(rejected, fresh=False) if refreshing else None

    # -- sync ---------------------------------------------------------------------------
    def sync_token(self, rejected: str | None = None) -> str:
        if (value := self._without_request(rejected, self._thread_lock.locked())) is not None:
            return value
        with self._thread_lock:
            if (value := self._without_request(rejected, False)) is not None:
                return value
            requested_at = self._clock()
            self.token_requests += 1
            try:
                body = _post_sync(self.token_url, self._request_form(), self._basic, self.timeout)
            except (httpx.HTTPError, TokenRequestError, OSError, ValueError):
                if (usable := self._current(rejected, fresh=False)) is None:
                    raise
                return usable  # the refresh failed, but the cached token is still valid
            return self._store(body, requested_at)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.sync_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.sync_token(rejected=token)}"
            yield request

    # -- async --------------------------------------------------------------------------
    async def async_token(self, rejected: str | None = None) -> str:
        if (value := self._without_request(rejected, self._async_lock.locked())) is not None:
            return value
        async with self._async_lock:
            if (value := self._without_request(rejected, False)) is not None:
                return value
            requested_at = self._clock()
            self.token_requests += 1
            try:
                body = await _post_async(self.token_url, self._request_form(), self._basic,
                                         self.timeout)
            except (httpx.HTTPError, TokenRequestError, OSError, ValueError):
                if (usable := self._current(rejected, fresh=False)) is None:
                    raise
                return usable  # the refresh failed, but the cached token is still valid
            return self._store(body, requested_at)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.async_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.async_token(rejected=token)}"
            yield request
