"""`signet token`: get a token from a running issuer by hand, for debugging.

The secret comes from an environment variable, a file or standard input, so it shows in
neither `ps` nor the shell history (the old `--client-secret VALUE` still works, with a
warning). With `--key-file` the client authenticates with private_key_jwt instead: an
RFC 7523 assertion signed with its private key, which never leaves this process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from signet.algorithms import ALGORITHMS, KeyFamily, algorithm_fits_key

from ..settings import Settings
from .clients import CommandFailed, UsageError

# httpx and PyJWT are imported when a token is asked for: every other command starts faster.

STDIN = "-"  # --client-secret-file - reads standard input
ASSERTION_LIFETIME_SECONDS = 60  # well inside SIGNET_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS


def read_secret(args: argparse.Namespace) -> str:
    """The client secret from exactly one source; trailing newlines (echo, editors) dropped."""
    sources = [s for s in (args.client_secret, args.client_secret_env, args.client_secret_file)
               if s is not None]
    if len(sources) != 1:
        raise UsageError("give the client secret once: --client-secret-env NAME,"
                         " --client-secret-file PATH ('-' reads standard input), or --key-file"
                         " for private_key_jwt")
    if args.client_secret is not None:
        print("signet: warning: --client-secret puts the secret in `ps` and the shell history;"
              " use --client-secret-env NAME or --client-secret-file PATH|-", file=sys.stderr)
        secret = str(args.client_secret)
    elif args.client_secret_env is not None:
        value = os.environ.get(args.client_secret_env)
        if value is None:
            raise UsageError(f"--client-secret-env {args.client_secret_env}: no such environment"
                             " variable")
        secret = value
    elif args.client_secret_file == STDIN:
        secret = sys.stdin.readline()
    else:
        try:
            secret = Path(args.client_secret_file).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise UsageError(f"--client-secret-file {args.client_secret_file}: {reason}") from None
    secret = secret.rstrip("\r\n")
    if not secret:
        raise UsageError("the client secret is empty")
    return secret


def client_assertion(key_file: Path, key_alg: str | None, kid: str | None, client_id: str,
                     token_url: str) -> str:
    """RFC 7523 section 3: iss = sub = client_id, aud = the token endpoint, exp, iat, jti."""
    import jwt

    try:
        private_key: Any = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except OSError as exc:
        raise UsageError(f"--key-file {key_file}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise UsageError(f"--key-file {key_file}: not an unencrypted PEM private key") from None
    public_key = private_key.public_key()
    ec_algs = [a for a in ALGORITHMS.values() if a.family is KeyFamily.EC]
    alg = ALGORITHMS.get(key_alg or "") or next(
        (a for a in ec_algs if algorithm_fits_key(a, public_key)), None)
    if alg is None or not algorithm_fits_key(alg, public_key):
        raise UsageError(f"--key-file {key_file}: name the key's algorithm with --key-alg"
                         " (an RSA key does not say whether it signs RS256 or PS256)")
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now,
              "exp": now + ASSERTION_LIFETIME_SECONDS, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, private_key, algorithm=alg.name, headers={"kid": kid} if kid else None)


def token(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from signet.client import TokenRequestError, parse_token_response, token_request_parts

    from ..token.assertions import JWT_BEARER

    issuer = (args.issuer or settings.issuer_url).rstrip("/")
    token_url = issuer + "/token"
    secrets_given = [s for s in (args.client_secret, args.client_secret_env, args.client_secret_file)
                     if s is not None]
    auth: Any = None
    if args.assertion_file:
        # A workload identity token (a projected service-account token, a JWT-SVID, a CI
        # OIDC token) that a federation issuer signed: presented as it is, re-read each time.
        from signet.client import AssertionFile, assertion_form

        if args.key_file or secrets_given:
            raise UsageError("--assertion-file, --key-file and a client secret exclude each other")
        try:
            assertion = AssertionFile(args.assertion_file).current()
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read --assertion-file: {exc}") from None
        form = assertion_form(assertion, client_id=args.client_id, scope=args.scope,
                              audience=args.audience)
    elif args.client_id is None:
        raise UsageError("--client-id is needed unless --assertion-file names the client")
    elif args.key_file:
        if secrets_given:
            raise UsageError("--key-file (private_key_jwt) and a client secret exclude each other")
        form: dict[str, str] = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
                                "client_assertion": client_assertion(
                                    Path(args.key_file), args.key_alg, args.kid, args.client_id,
                                    token_url)}
        if args.scope:
            form["scope"] = args.scope
        if args.audience:
            form["audience"] = args.audience
    else:
        form, auth = token_request_parts(args.client_id, read_secret(args), scope=args.scope,
                                         audience=args.audience)
    try:
        with httpx.Client(timeout=10.0) as http:
            response = http.post(token_url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        body = parse_token_response(response)
    except TokenRequestError as exc:
        raise CommandFailed(str(exc)) from None
    except httpx.HTTPError as exc:  # transport errors: say what failed in one line
        raise CommandFailed(f"cannot reach {token_url}: {type(exc).__name__}: {exc}") from None
    print(json.dumps(body, indent=2))
    return 0


def add_token_parser(commands: Any) -> None:
    token_p = commands.add_parser("token", help="get a token from a running issuer (for debugging)")
    token_p.add_argument("--client-id", help="the client (optional with --assertion-file when"
                         " the token's identity names one client)")
    secret = token_p.add_argument_group("client authentication (exactly one)")
    secret.add_argument("--assertion-file", metavar="PATH",
                        help="a workload identity token file (a projected service-account token)"
                             " a trusted federation issuer signed: presented instead of a secret")
    secret.add_argument("--client-secret-env", metavar="NAME",
                        help="read the client secret from environment variable NAME")
    secret.add_argument("--client-secret-file", metavar="PATH",
                        help="read the client secret from PATH ('-': standard input)")
    secret.add_argument("--key-file", metavar="PEM",
                        help="private_key_jwt: sign an RFC 7523 assertion with this private key")
    secret.add_argument("--client-secret", metavar="SECRET",
                        help="deprecated: visible in `ps` and shell history")
    token_p.add_argument("--key-alg", choices=list(ALGORITHMS),
                         help="with --key-file: the algorithm (needed for RSA keys)")
    token_p.add_argument("--kid", help="with --key-file: the kid of the registered public key")
    token_p.add_argument("--scope", help="space-separated scopes (default: the client's defaults)")
    token_p.add_argument("--audience", help="audience (default: the client's first)")
    token_p.add_argument("--issuer", help="issuer URL (default: SIGNET_ISSUER)")
    token_p.set_defaults(handler=token)
