"""Client authentication at the token endpoint (RFC 6749 section 2.3, RFC 7523 section 3).

Exactly one method per request: HTTP Basic (`client_secret_basic`), form secret
(`client_secret_post`), a signed assertion (`private_key_jwt`), or a workload identity
token from a trusted federation issuer as the assertion (`federated`, see
federation.py: told apart from private_key_jwt by its `iss`). Every failure looks
the same to the caller ("client authentication failed") whether the client id exists
or not, costs the same, and counts toward the throttle.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from signet.verifier import KeysUnavailable

from .assertions import (
    JWT_BEARER,
    AssertionRejected,
    check_without_a_client,
    unverified_client_id,
    unverified_issuer,
    verify_assertion,
)
from .client_secrets import KdfBusy, SecretVerifier
from .federation import Federation, FederationRefused
from .form import TokenForm
from .oauth_errors import OAuthError, invalid_client, invalid_request, try_later
from .registry import CLIENT_ID, Client, ClientRegistry
from .replay import ReplayCache
from .throttle import FailureThrottle

# RFC 8414 names of the methods extract_credentials tells apart; discovery lists exactly these.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
MAX_SECRET_LENGTH = 512
FAILED = "client authentication failed"
FEDERATED = "federated"
KEYS_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Credentials:
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | federated
    client_id: str
    secret: str | None = None
    assertion: str | None = None


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client("unsupported Authorization scheme; use Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("malformed Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise invalid_client("malformed Basic credentials")
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def extract_credentials(authorization: str | None, form: TokenForm,
                        federation_trusts: Callable[[object], bool] = lambda issuer: False) -> Credentials:
    used = [name for name, present in (
        ("client_secret_basic", authorization is not None),
        ("client_secret_post", "client_secret" in form),
        ("private_key_jwt", "client_assertion" in form or "client_assertion_type" in form),
    ) if present]
    if len(used) > 1:
        raise invalid_request(f"more than one client authentication method ({', '.join(used)});"
                              " RFC 6749 section 2.3 allows one")
    form_client_id = form.get("client_id")
    if not used:
        raise invalid_client("client authentication required (Basic, client_secret or client_assertion)",
                             form_client_id)
    if used[0] == "client_secret_basic":
        client_id, secret = _basic(authorization or "")
        if form_client_id is not None and form_client_id != client_id:
            raise invalid_request("client_id in the form differs from the Basic credentials")
        return Credentials("client_secret_basic", client_id, secret=secret)
    if used[0] == "client_secret_post":
        if form_client_id is None:
            raise invalid_request("client_secret_post needs client_id")
        return Credentials("client_secret_post", form_client_id, secret=form.get("client_secret"))
    assertion_type, assertion = form.get("client_assertion_type"), form.get("client_assertion")
    if assertion is None or assertion_type is None:
        raise invalid_request("private_key_jwt needs both client_assertion and client_assertion_type")
    if assertion_type != JWT_BEARER:
        raise invalid_client(f"unsupported client_assertion_type; use {JWT_BEARER}", form_client_id)
    issuer = unverified_issuer(assertion)
    if federation_trusts(issuer):
        # The client is found by the token's subject; a client_id sent along picks among
        # several clients declaring the same identity.
        return Credentials(FEDERATED, form_client_id or "", assertion=assertion)
    claimed = unverified_client_id(assertion)
    if claimed is None:
        raise invalid_client("client assertion is not a JWT with a sub claim", form_client_id)
    if form_client_id is not None and form_client_id != claimed:
        if issuer != claimed:  # not a private_key_jwt (iss = sub) at all: an unknown issuer's
            raise invalid_client(FAILED)
        raise invalid_request("client_id differs from the client assertion's sub")
    return Credentials("private_key_jwt", claimed, assertion=assertion)


def throttled(retry_after: int, client_id: str | None) -> OAuthError:
    """The 429 for a client id or address at its failure limit (token-endpoint.md#throttling)."""
    return OAuthError("temporarily_unavailable", "too many failed client authentications for"
                      f" this client or address; retry in {retry_after} s", 429,
                      {"Retry-After": str(retry_after)}, client_id)


class Authenticator:
    def __init__(self, registry: ClientRegistry, secrets: SecretVerifier, throttle: FailureThrottle,
                 replay: ReplayCache, *, assertion_audiences: list[str],
                 assertion_max_lifetime: int, federation: Federation | None = None) -> None:
        self.registry = registry
        self.federation = federation
        self.secrets = secrets
        self.throttle = throttle
        self.replay = replay
        self.assertion_audiences = assertion_audiences
        self.assertion_max_lifetime = assertion_max_lifetime

    async def authenticate(self, creds: Credentials, source: str,
                           facts: dict[str, str] | None = None) -> Client:
        """The authenticated client; `facts` receives what the audit line should add (for a
        federated client: the issuer and the subject it authenticated as)."""
        if creds.method == FEDERATED:
            return await self._federated(creds, source, facts if facts is not None else {})
        valid_id = bool(CLIENT_ID.fullmatch(creds.client_id))
        client = self.registry.get(creds.client_id) if valid_id else None
        known_id = creds.client_id if valid_id else None
        # A secret that verified moments ago skips the throttle: guesses never hit this cache,
        # so a client id under attack does not lock out its real, already running owner.
        if (client is not None and creds.secret is not None
                and self.secrets.recently_verified(client.client_id, client.secret_hash, creds.secret)):
            return client
        # The same secret for the same client id already being checked (a client's replicas
        # starting together): share that check's answer. It costs no argon2 run and needs no
        # throttle count; unknown ids join alike, so joining tells nothing about which exist.
        stored_hash = client.secret_hash if client else None
        running = (self.secrets.in_flight(creds.client_id, stored_hash, creds.secret)
                   if creds.secret is not None else None)
        if running is not None:
            if await self.secrets.joined(running, stored_hash):
                assert client is not None  # only a known client's check can succeed
                return client
            raise invalid_client(FAILED, known_id)
        # Reserve first (an atomic count), check after, refund on success: concurrent guesses
        # cannot all pass a limit read before any of them was counted.
        reservation = await self.throttle.reserve(known_id, source, registered=client is not None)
        retry_after = reservation.refused
        if retry_after is not None:
            raise throttled(retry_after, known_id)
        try:
            await self._check(creds, client, valid_id, source, reservation.clean)
        except KdfBusy:
            await self.throttle.refund(reservation)  # not checked: not a failure
            raise OAuthError("temporarily_unavailable", "too many client authentications in"
                             " progress; retry in 1 s", 503, {"Retry-After": "1"}, known_id) from None
        except OAuthError as exc:
            exc.client_id = known_id  # the reservation stays: it counts as the failure
            raise
        await self.throttle.refund(reservation)
        assert client is not None
        return client

    async def _federated(self, creds: Credentials, source: str, facts: dict[str, str]) -> Client:
        """A workload identity token: throttled per address (no client is known before it
        verifies), every refusal the same 401, the reason in the audit line only."""
        assert self.federation is not None and creds.assertion is not None
        wanted = creds.client_id if CLIENT_ID.fullmatch(creds.client_id) else None
        reservation = await self.throttle.reserve(None, source, registered=False)
        if reservation.refused is not None:
            return await self._federated_past_limit(creds.assertion, wanted, reservation.refused, facts)
        try:
            client, identity = await self.federation.authenticate(creds.assertion, wanted)
        except KeysUnavailable:
            await self.throttle.refund(reservation)  # not checked: not a failure
            raise try_later("the federation issuer's keys are unavailable; retry later",
                            KEYS_RETRY_AFTER_SECONDS) from None
        except FederationRefused as exc:
            error = invalid_client(FAILED, wanted)
            error.detail = str(exc)
            raise error from None
        await self.throttle.refund(reservation)
        facts["federated_identity"] = identity.describe()
        return client

    async def _federated_past_limit(self, assertion: str, wanted: str | None, retry_after: int,
                                    facts: dict[str, str]) -> Client:
        """The address is at its limit: as a registered client's correct secret is, a valid
        workload token is still honoured (others' failures behind one proxy address must not
        lock it out); anything else gets the 429, whatever its reason. The check is one
        signature verification, not an argon2 run, and a refusal here counts nothing."""
        assert self.federation is not None
        try:
            client, identity = await self.federation.authenticate(assertion, wanted)
        except (FederationRefused, KeysUnavailable) as exc:
            error = throttled(retry_after, wanted)
            error.detail = str(exc)  # for the audit line only
            raise error from None
        facts["federated_identity"] = identity.describe()
        return client

    async def _check(self, creds: Credentials, client: Client | None, valid_id: bool,
                     source: str, clean: bool) -> None:
        if creds.secret is not None:
            # A registered client without failures of its own goes ahead of the rest: a
            # flood of guesses (made-up ids, or ids already failing) cannot starve it.
            secret_ok = len(creds.secret) <= MAX_SECRET_LENGTH and await self.secrets.verify(
                creds.client_id, client.secret_hash if client else None, creds.secret, source,
                priority=clean)
            if not (secret_ok and valid_id):
                raise invalid_client(FAILED)
            return
        if client is None or not client.keys or creds.assertion is None:
            if creds.assertion is not None:
                check_without_a_client(creds.assertion)
            raise invalid_client(FAILED)
        try:
            await verify_assertion(creds.assertion, client, audiences=self.assertion_audiences,
                                   max_lifetime=self.assertion_max_lifetime, replay=self.replay)
        except AssertionRejected as exc:
            raise invalid_client(str(exc)) from None

