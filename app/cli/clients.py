"""`signet clients ...`: manage the registry file (`signet token` is in token_command).

Secrets are printed once, when made, and stored only as argon2id hashes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from signet.algorithms import ALGORITHMS, KeyFamily, algorithm_fits_key
from signet.jwk import public_key_to_jwk

from ..settings import Settings
from ..token.client_secrets import generate_secret, hash_secret
from ..token.registry import Client, RegistryError, editing, parse_client, parse_jwks, read_registry


class UsageError(Exception):
    """A command given wrong arguments or settings (exit 2); str() is the one line printed."""


class CommandFailed(Exception):
    """A well-formed command the issuer's state refuses or that failed (no such client or
    key, already retired, a token request refused): exit 1; str() is the one line printed."""


def _load_key_file(path: Path, key_alg: str | None) -> dict[str, Any]:
    """A JWKS (JSON) or one PEM public key, as the JWKS the registry stores."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--jwks-file {path}: {exc.strerror}") from None
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            public_key = serialization.load_pem_public_key(raw)
        except ValueError:
            raise UsageError(f"--jwks-file {path}: not a PEM public key") from None
        curve_algs = [a for a in ALGORITHMS.values() if a.family is not KeyFamily.RSA]
        alg = ALGORITHMS.get(key_alg or "") or next(
            (a for a in curve_algs if algorithm_fits_key(a, public_key)), None)
        if alg is None or not algorithm_fits_key(alg, public_key):
            raise UsageError(f"--jwks-file {path}: name the key's algorithm with --key-alg"
                             " (an RSA key does not say whether it signs RS256 or PS256)")
        jwks: Any = {"keys": [public_key_to_jwk(public_key, alg)]}  # type: ignore[arg-type]
    else:
        try:
            jwks = json.loads(raw)
        except ValueError:
            raise UsageError(f"--jwks-file {path}: neither JSON nor a PEM public key") from None
        if isinstance(jwks, dict) and "kty" in jwks:
            jwks = {"keys": [jwks]}  # a single JWK
    parse_jwks(jwks, f"--jwks-file {path}")
    return jwks  # type: ignore[no-any-return]


def _federated(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """One federated identity from the --federated-* flags (more: edit the clients file)."""
    if args.federated_issuer is None:
        if args.federated_subject or args.federated_subject_pattern or args.federated_claim \
                or args.federated_audience:
            raise UsageError("--federated-* flags need --federated-issuer")
        return None
    identity: dict[str, Any] = {"issuer": args.federated_issuer}
    for key, value in (("subject", args.federated_subject),
                       ("subject_pattern", args.federated_subject_pattern),
                       ("audience", args.federated_audience)):
        if value is not None:
            identity[key] = value
    claims: dict[str, Any] = {}
    for condition in args.federated_claim or ():
        name, equals, value = condition.partition("=")
        if not equals or not name or not value:
            raise UsageError(f"--federated-claim {condition!r}: write NAME=VALUE"
                             " (NAME/INNER for an object claim, e.g. kubernetes.io/namespace=payments)")
        *outer, last = name.split("/")
        target = claims
        for part in outer:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise UsageError(f"--federated-claim {condition!r}: {part} is already a value")
        target[last] = value
    if claims:
        identity["claims"] = claims
    return [identity]


def _print_secret(client_id: str, secret: str | None, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"client_id": client_id, "client_secret": secret}))
    elif secret is None:
        print(f"client {client_id} added; it authenticates with private_key_jwt or its federated"
              " identity (no secret)")
    else:
        print(f"client_id:     {client_id}\nclient_secret: {secret}\n"
              "(shown once: Signet stores only its hash)")


def add(settings: Settings, args: argparse.Namespace) -> int:
    if args.lifetime is not None and args.lifetime > settings.max_token_lifetime_seconds:
        raise UsageError(f"--lifetime {args.lifetime} exceeds SIGNET_MAX_TOKEN_LIFETIME_SECONDS"
                         f" ({settings.max_token_lifetime_seconds})")
    jwks = _load_key_file(Path(args.jwks_file), args.key_alg) if args.jwks_file else None
    federated = _federated(args)
    secret = None if jwks or federated else generate_secret()
    record: dict[str, Any] = {
        "scopes": args.scope, "default_scopes": args.default_scope or args.scope,
        "audiences": args.audience, "token_lifetime_seconds": args.lifetime,
        "secret_hash": hash_secret(secret) if secret else None, "jwks": jwks,
        "federated": federated}
    client = _parse(args.client_id, {k: v for k, v in record.items() if v is not None})
    with editing(settings.clients_file) as clients:
        if args.client_id in clients:
            raise CommandFailed(f"client {args.client_id!r} already exists"
                             " (remove it, or rotate-secret to get a new secret)")
        clients[args.client_id] = client
    _print_secret(args.client_id, secret, args.json)
    return 0


def _parse(client_id: str, record: dict[str, Any]) -> Client:
    try:
        return parse_client(client_id, record)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None


def _existing(clients: dict[str, Client], client_id: str) -> Client:
    if client_id not in clients:
        raise CommandFailed(f"no client {client_id!r} (see: signet clients list)")
    return clients[client_id]


def remove(settings: Settings, args: argparse.Namespace) -> int:
    with editing(settings.clients_file) as clients:
        _existing(clients, args.client_id)
        del clients[args.client_id]
    print(f"client {args.client_id} removed")
    return 0


def rotate_secret(settings: Settings, args: argparse.Namespace) -> int:
    secret = generate_secret()
    with editing(settings.clients_file) as clients:
        client = _existing(clients, args.client_id)
        if client.keys and not client.secret_hash:
            raise CommandFailed(f"client {args.client_id!r} authenticates with private_key_jwt; it has"
                             " no secret to rotate")
        clients[args.client_id] = replace(client, secret_hash=hash_secret(secret))
    _print_secret(args.client_id, secret, args.json)
    return 0


def set_enabled(settings: Settings, args: argparse.Namespace) -> int:
    with editing(settings.clients_file) as clients:
        clients[args.client_id] = replace(_existing(clients, args.client_id), enabled=args.enabled)
    print(f"client {args.client_id} {'enabled' if args.enabled else 'disabled'}")
    return 0


def client_view(c: Client) -> dict[str, Any]:
    """What `clients list` and `clients show` print: never the secret nor its hash."""
    return {"client_id": c.client_id, "enabled": c.enabled, "auth_methods": list(c.auth_methods),
            "scopes": list(c.scopes), "default_scopes": list(c.default_scopes),
            "audiences": list(c.audiences), "token_lifetime_seconds": c.token_lifetime_seconds}


UPDATABLE = ("scopes", "default_scopes", "audiences", "token_lifetime_seconds", "enabled")


def update(settings: Settings, args: argparse.Namespace) -> int:
    """Change scopes, audiences, lifetime or enabled; the secret and the keys are kept."""
    if args.lifetime is not None and args.lifetime > settings.max_token_lifetime_seconds:
        raise UsageError(f"--lifetime {args.lifetime} exceeds SIGNET_MAX_TOKEN_LIFETIME_SECONDS"
                         f" ({settings.max_token_lifetime_seconds})")
    if args.lifetime is not None and args.default_lifetime:
        raise UsageError("--lifetime and --default-lifetime exclude each other")
    asked = [args.scope, args.default_scope, args.audience, args.lifetime, args.enabled]
    if all(a is None for a in asked) and not args.default_lifetime:
        raise UsageError("nothing to update: give --scope, --default-scope, --audience,"
                         " --lifetime, --default-lifetime, --enable or --disable")
    with editing(settings.clients_file) as clients:
        old = _existing(clients, args.client_id)
        record = old.record()
        if args.scope is not None:
            record["scopes"] = args.scope
            if args.default_scope is None:  # keep the defaults that are still allowed
                everything = set(old.default_scopes) == set(old.scopes)
                record["default_scopes"] = list(args.scope) if everything else [
                    s for s in old.default_scopes if s in args.scope]
        if args.default_scope is not None:
            record["default_scopes"] = args.default_scope
        if args.audience is not None:
            record["audiences"] = args.audience
        if args.lifetime is not None:
            record["token_lifetime_seconds"] = args.lifetime
        if args.default_lifetime:
            record.pop("token_lifetime_seconds", None)
        if args.enabled is not None:
            record["enabled"] = args.enabled
        new = _parse(args.client_id, record)
        clients[args.client_id] = new
    before, after = client_view(old), client_view(new)
    changed = {f: {"old": before[f], "new": after[f]} for f in UPDATABLE if before[f] != after[f]}
    if args.json:
        print(json.dumps({"client_id": args.client_id, "changed": changed}))
    elif not changed:
        print(f"client {args.client_id}: unchanged")
    else:
        print(f"client {args.client_id} updated (secret and keys unchanged):")
        for name, values in changed.items():
            print(f"  {name}: {json.dumps(values['old'])} -> {json.dumps(values['new'])}")
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    try:
        clients = read_registry(settings.clients_file)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    client = _existing(clients, args.client_id)
    view = client_view(client)
    view["keys"] = [{"kid": k.kid, "alg": k.alg.name} for k in client.keys]
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    for name, value in view.items():
        if name == "keys":
            value = " ".join(f"{k['kid'] or '(no kid)'}/{k['alg']}" for k in value) or "-"
        elif isinstance(value, list):
            value = " ".join(value) or "-"
        elif value is None:
            value = "default"
        print(f"{name + ':':<24}{value}")
    return 0


def list_clients(settings: Settings, args: argparse.Namespace) -> int:
    try:
        clients = read_registry(settings.clients_file)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    rows = [client_view(c) for c in sorted(clients.values(), key=lambda c: c.client_id)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no clients in {settings.clients_file}")
    for row in rows:
        lifetime = row["token_lifetime_seconds"] or "default"
        print(f"{row['client_id']}  {'enabled' if row['enabled'] else 'DISABLED'}"
              f"  auth={','.join(row['auth_methods'])}  scopes={' '.join(row['scopes'])}"
              f"  default={' '.join(row['default_scopes']) or '-'}"
              f"  audiences={' '.join(row['audiences'])}  lifetime={lifetime}")
    return 0


def add_commands(commands: Any) -> None:
    clients = commands.add_parser("clients", help="manage the client registry (SIGNET_CLIENTS_FILE)")
    sub = clients.add_subparsers(dest="clients_command", required=True)
    add_p = sub.add_parser("add", help="register a client; prints its secret once")
    add_p.add_argument("client_id")
    add_p.add_argument("--scope", action="append", required=True, help="allowed scope (repeat)")
    add_p.add_argument("--audience", action="append", required=True,
                       help="allowed audience (repeat; the first is the default)")
    add_p.add_argument("--default-scope", action="append",
                       help="scope granted when none is requested (repeat; default: every --scope)")
    add_p.add_argument("--lifetime", type=int, help="token lifetime in seconds for this client")
    add_p.add_argument("--jwks-file", help="JWKS or PEM public key: the client uses private_key_jwt")
    add_p.add_argument("--key-alg", choices=list(ALGORITHMS), help="algorithm of an RSA PEM key")
    add_p.add_argument("--federated-issuer", help="federation issuer URL: the client authenticates"
                       " with that issuer's workload tokens (no secret)")
    add_p.add_argument("--federated-subject", help="the exact sub of its workload tokens")
    add_p.add_argument("--federated-subject-pattern",
                       help="instead: a sub pattern (* one segment between : or /, ** any)")
    add_p.add_argument("--federated-audience", help="the audience its tokens must carry")
    add_p.add_argument("--federated-claim", action="append",
                       help="claim condition NAME=VALUE, NAME/INNER for object claims (repeat)")
    add_p.add_argument("--json", action="store_true", help='print {"client_id","client_secret"}')
    add_p.set_defaults(handler=add)
    list_p = sub.add_parser("list", help="list clients (never secrets)")
    list_p.add_argument("--json", action="store_true")
    list_p.set_defaults(handler=list_clients)
    show_p = sub.add_parser("show", help="one client's settings (never its secret)")
    show_p.add_argument("client_id")
    show_p.add_argument("--json", action="store_true")
    show_p.set_defaults(handler=show)
    update_p = sub.add_parser("update", help="change scopes, audiences, lifetime or enabled;"
                              " keeps the secret and keys")
    update_p.add_argument("client_id")
    update_p.add_argument("--scope", action="append",
                          help="allowed scope (repeat; replaces the list)")
    update_p.add_argument("--default-scope", action="append",
                          help="scope granted when none is requested (repeat; replaces the list)")
    update_p.add_argument("--audience", action="append",
                          help="allowed audience (repeat; replaces the list; the first is the default)")
    update_p.add_argument("--lifetime", type=int, help="token lifetime in seconds for this client")
    update_p.add_argument("--default-lifetime", action="store_true",
                          help="drop the client's own lifetime: SIGNET_TOKEN_LIFETIME_SECONDS applies")
    state = update_p.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    update_p.add_argument("--json", action="store_true", help='print {"client_id", "changed"}')
    update_p.set_defaults(handler=update)
    remove_p = sub.add_parser("remove", help="delete a client")
    remove_p.add_argument("client_id")
    remove_p.set_defaults(handler=remove)
    rotate_p = sub.add_parser("rotate-secret", help="replace a client's secret; prints the new one once")
    rotate_p.add_argument("client_id")
    rotate_p.add_argument("--json", action="store_true")
    rotate_p.set_defaults(handler=rotate_secret)
    for name, enabled in (("enable", True), ("disable", False)):
        toggle = sub.add_parser(name, help=f"{name} a client")
        toggle.add_argument("client_id")
        toggle.set_defaults(handler=set_enabled, enabled=enabled)
