"""`signet keys ...`: look at and steer the key ring of a (possibly running) issuer.

The commands act on the same ring the issuer replicas use (keyring.json under an flock),
so a running issuer picks the change up within SIGNET_KEY_RING_RELOAD_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from signet.keyring import RotationPolicy
from signet.rotation import KeyAlreadyRetired, RotationRefused, Rotator

from ..keys.backends import build_backend
from ..keys.ring_view import next_words, operator_view
from ..keys.rotation import build_rotator, rotation_policy
from ..settings import ConfigurationError, Settings
from .clients import CommandFailed


async def _open_rotator(settings: Settings) -> Rotator:
    backend = build_backend(settings)
    await backend.open()
    rotator = build_rotator(settings, backend)
    if rotator is None:
        await backend.aclose()
        raise ConfigurationError(f"SIGNET_KEY_BACKEND: the {settings.key_backend} backend has a"
                                 " fixed key; key ring commands need the local backend")
    return rotator


def _rows(rotator: Rotator, policy: RotationPolicy) -> list[dict[str, Any]]:
    return operator_view(rotator.backend.snapshot.records, policy, rotator.clock())


def _print_table(views: list[dict[str, Any]]) -> None:
    columns = ["kid", "alg", "state", "created", "activated", "next"]
    rows = [{**{c: view[c] or "-" for c in columns[:-1]}, "next": next_words(view)} for view in views]
    widths = {c: max([len(c), *(len(row[c]) for row in rows)]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())


def keys_command(settings: Settings, args: argparse.Namespace) -> int:
    policy = rotation_policy(settings)

    async def run() -> int:
        rotator = await _open_rotator(settings)
        await rotator.reload()
        if args.keys_command == "rotate":
            try:
                record = await rotator.rotate_now(force=args.force)
            except RotationRefused as exc:
                raise CommandFailed(str(exc)) from None
            view = next(v for v in _rows(rotator, policy) if v["kid"] == record.kid)
            print(f"created {record.kid} ({record.alg}): published now, {next_words(view)}")
        elif args.keys_command == "retire":
            if not args.yes:
                print(f"signet: retiring {args.kid} unpublishes it at once: every unexpired token"
                      " it signed will be refused by verifiers within one key refresh. If it is"
                      " the active key, the issuer bootstraps a new key immediately (verifiers"
                      " that have not refreshed yet may refuse the first tokens). Re-run with --yes.",
                      file=sys.stderr)
                return 2
            known = {r.kid: r for r in rotator.backend.snapshot.records}
            if args.kid not in known:
                raise CommandFailed(f"no key {args.kid!r} in the ring (see: signet keys list)")
            try:
                record = await rotator.retire(args.kid)
            except KeyAlreadyRetired as exc:
                raise CommandFailed(str(exc)) from None
            print(f"retired {record.kid}: no longer signing or published")
        else:
            rows = _rows(rotator, policy)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                _print_table(rows)
        return 0

    return asyncio.run(run())


def add_keys_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser("keys", help="list, rotate or retire signing keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    listing = sub.add_parser("list", help="the key ring: kid, alg, state, times")
    listing.add_argument("--json", action="store_true")
    rotate = sub.add_parser("rotate", help="start a rotation now (new key published, signs after the lead)")
    rotate.add_argument("--force", action="store_true",
                        help="replace a key that is already pending instead of refusing")
    retire = sub.add_parser("retire", help="emergency: stop signing and publishing a key now")
    retire.add_argument("kid")
    retire.add_argument("--yes", action="store_true", help="confirm; tokens of this key will fail")
    keys.set_defaults(handler=keys_command)


RETIRE_OPTIONS = ("--yes", "-h", "--help")


def protect_kid(argv: list[str]) -> list[str]:
    """`signet keys retire KID`: a kid is base64url, so one in 64 begins with `-`, which
    argparse would take for an option. Put the options first and the kid after `--`."""
    if argv[:2] != ["keys", "retire"] or "--" in argv:
        return argv
    rest = argv[2:]
    options = [a for a in rest if a in RETIRE_OPTIONS]
    return [*argv[:2], *options, "--", *(a for a in rest if a not in RETIRE_OPTIONS)]
