"""The `signet` command (also `python -m app`): run the issuer, inspect its keys, manage clients."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from signet import __version__
from signet.keys.base import KeyConfigurationError

from ..settings import ConfigurationError, Settings, load_settings
from ..token.registry import RegistryError
from .clients import CommandFailed, UsageError
from .clients import add_commands as add_client_commands
from .keys import add_keys_parser, protect_kid
from .token_command import add_token_parser


def serve(settings: Settings, args: argparse.Namespace, extra_lines: tuple[str, ...] = ()) -> int:
    from ..server.serving import run_issuer  # uvicorn is imported only to serve
    from ..telemetry.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)  # uvicorn's lines too, from the first
    _banner(settings, extra_lines)
    if settings.issuer_url.startswith("https://") and not args.proxy_headers:
        logging.getLogger("signet.serve").warning(
            "SIGNET_ISSUER is https, so a proxy terminates TLS in front of"
            " this server, but --proxy-headers is off: every caller has the proxy's address,"
            " and failures past SIGNET_AUTH_FAILURES_PER_ADDRESS refuse all of them that are"
            " unknown or failing. Use --proxy-headers with FORWARDED_ALLOW_IPS set to the"
            " proxy's addresses.")
    workers = getattr(args, "workers", 1)
    if workers > 1 and not settings.redis_url:
        logging.getLogger("signet.serve").warning(
            "%d workers without SIGNET_REDIS_URL: each worker counts failed client"
            " authentications and remembers client assertion jtis on its own, as separate"
            " replicas would (set SIGNET_REDIS_URL to share them).", workers)
    from ..server.http_protocol import bounded_protocol

    return run_issuer(settings.host, settings.port, settings.shutdown_grace_seconds,
                      workers=workers, log_level=settings.log_level, proxy_headers=args.proxy_headers,
                      http=bounded_protocol(settings.max_header_bytes,
                                            settings.request_read_timeout_seconds))


def _banner(settings: Settings, extra_lines: tuple[str, ...]) -> None:
    """Where to look: lines to paste for a person (text), one log line for a pipeline (json)."""
    base = settings.issuer_url
    urls = {"jwks": f"{base}/.well-known/jwks.json",
            "discovery": f"{base}/.well-known/openid-configuration", "readiness": f"{base}/readyz"}
    if settings.log_format == "json":
        logging.getLogger("signet.serve").info("serving", extra={"fields": {
            "issuer": base, "backend": settings.key_backend, "alg": settings.signing_alg, **urls}})
        for line in extra_lines:
            logging.getLogger("signet.serve").info(line.strip())
        return
    print(f"Signet issuer: {base}  (key backend: {settings.key_backend},"
          f" algorithm: {settings.signing_alg})")
    print(f"  public keys:  curl -s {urls['jwks']}")
    print(f"  discovery:    curl -s {urls['discovery']}")
    print(f"  readiness:    curl -s {urls['readiness']}", flush=not extra_lines)
    for line in extra_lines:
        print(line, flush=True)


def dev(settings: Settings, args: argparse.Namespace) -> int:
    from .dev import DemoPortInUse, DemoService, check_demo_port, demo_lines

    try:
        check_demo_port(settings)
    except DemoPortInUse as exc:
        raise UsageError(str(exc)) from None
    if "SIGNET_LOG_FORMAT" not in os.environ:  # a person at a terminal; the app reads it too
        os.environ["SIGNET_LOG_FORMAT"] = "text"
        settings = settings.model_copy(update={"log_format": "text"})
    lines = demo_lines(settings)
    demo = DemoService(settings)
    demo.start()  # once the issuer answers
    try:
        return serve(settings, args, lines)
    finally:
        demo.stop()


async def _open_backend(settings: Settings):  # type: ignore[no-untyped-def]
    from ..keys.backends import build_backend

    backend = build_backend(settings)
    await backend.open()
    return backend


def _jwks(settings: Settings, args: argparse.Namespace) -> int:
    from ..keys.jwks import JwksDocument

    async def run() -> bytes:
        backend = await _open_backend(settings)
        try:
            return JwksDocument.from_backend(backend).body
        finally:
            await backend.aclose()

    print(json.dumps(json.loads(asyncio.run(run())), indent=2))
    return 0


def worker_count(value: str) -> int:
    """`--workers`: a positive number, or `auto` for the cores this process may run on."""
    if value == "auto":
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number or auto, not {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signet", description="Signet issuer. Configured by SIGNET_* environment variables.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, text in (
            ("serve", serve, "run the issuer (SIGNET_HOST, SIGNET_PORT)"),
            ("dev", dev, "register a demo client, print curl lines to try, run the issuer")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--proxy-headers", action="store_true",
                             help="trust X-Forwarded-* from the proxy in front")
        if name == "serve":
            command.add_argument("--workers", type=worker_count, default=1, metavar="N|auto",
                                 help="worker processes on one socket (default 1; auto: one per"
                                      " core this process may use)")
        command.set_defaults(handler=handler)
    commands.add_parser("jwks", help="print the JWKS the issuer would publish").set_defaults(
        handler=_jwks)
    commands.add_parser("check", help="read-only pre-flight: settings, clients file, Redis, keys"
                        " (exit 0 ok, 1 a check failed, 2 invalid settings)").set_defaults(handler=None)
    add_client_commands(commands)
    add_token_parser(commands)
    add_keys_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(protect_kid(sys.argv[1:] if argv is None else argv))
    if args.command == "check":  # loads the settings itself: a bad one is a FAIL line
        from .preflight import preflight

        return preflight()
    try:
        return int(args.handler(load_settings(), args))
    except (ConfigurationError, KeyConfigurationError) as exc:
        print(f"signet: configuration error: {exc}", file=sys.stderr)
        return 2
    except (UsageError, RegistryError) as exc:
        print(f"signet: error: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"signet: error: {exc}", file=sys.stderr)
        return 1
