"""`signet dev` (what `make run` runs): a demo client, the curl lines to try, then the issuer.

The demo client's secret must be printable on every start, so it is kept in
`demo-client.json` (mode 0600) next to the clients file; the registry itself holds only
its hash, as for every client. Development only: production clients come from
`signet clients add`, whose secrets are shown once and stored nowhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ..settings import Settings
from ..token.client_secrets import generate_secret, hash_secret, secret_matches
from ..token.registry import Client, editing

# The service's top-level package: `app` in the repository, `signet_issuer` installed.
SERVICE_PACKAGE = (__package__ or "app").partition(".")[0]

DEMO_CLIENT_ID = "demo"
DEMO_SCOPES = ("demo.read", "demo.write")
DEMO_AUDIENCE = "urn:signet:demo"


def demo_secret_file(settings: Settings) -> Path:
    return settings.clients_file.parent / "demo-client.json"


def _stored_secret(path: Path) -> str | None:
    try:
        secret = json.loads(path.read_text()).get("client_secret")
    except (OSError, ValueError, AttributeError):
        return None
    return secret if isinstance(secret, str) else None


def ensure_demo_client(settings: Settings) -> str:
    """The demo client's secret; registers the client (or re-keys it) when needed."""
    secret_path = demo_secret_file(settings)
    with editing(settings.clients_file) as clients:
        current = clients.get(DEMO_CLIENT_ID)
        secret = _stored_secret(secret_path)
        if current and current.secret_hash and secret and secret_matches(current.secret_hash, secret):
            return secret
        secret = generate_secret()
        clients[DEMO_CLIENT_ID] = Client(
            DEMO_CLIENT_ID, DEMO_SCOPES, (DEMO_SCOPES[0],), (DEMO_AUDIENCE,),
            secret_hash=hash_secret(secret), enabled=True)
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"client_id": DEMO_CLIENT_ID, "client_secret": secret}, out)
        os.chmod(secret_path, 0o600)  # an older file may have had a wider mode
    return secret


def demo_lines(settings: Settings) -> tuple[str, ...]:
    """What `signet dev` prints after the issuer's URLs: the demo client and its curls."""
    secret = ensure_demo_client(settings)
    return (*_token_lines(settings, secret), *demo_service_lines(settings, secret))


def _token_lines(settings: Settings, secret: str) -> tuple[str, ...]:
    return (f"  get a token:  curl -s -u {DEMO_CLIENT_ID}:{secret}"
            f" -d grant_type=client_credentials {settings.issuer_url}/token",
            f"  (demo client '{DEMO_CLIENT_ID}' is registered in {settings.clients_file}; its secret is"
            f" kept in {demo_secret_file(settings)}, mode 0600, so this line can be printed again)")


DEMO_PORT_OFFSET = 1  # the demo service listens next to the issuer


def demo_service_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.port + DEMO_PORT_OFFSET}"


class DemoPortInUse(Exception):
    """The demo service's port (SIGNET_PORT + 1) is taken: say so before printing curl lines
    that would reach whatever else listens there."""


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def check_demo_port(settings: Settings) -> None:
    """Raise DemoPortInUse unless the demo's port is free now (before any curl line is printed)."""
    port = settings.port + DEMO_PORT_OFFSET
    if not _port_is_free("127.0.0.1", port):
        raise DemoPortInUse(f"port {port} (SIGNET_PORT + 1, for the demo service) is in use;"
                            " choose another SIGNET_PORT")


class DemoService(threading.Thread):
    """The demo downstream service (app.demo:app; signet_issuer.demo:app installed), trusting
    this issuer, as a child process started once the issuer answers, so its key warm-up finds
    the issuer instead of logging a failed fetch. It verifies tokens for the demo client's
    audience; its log lines share this terminal.

    The thread stays alive while the child runs: Linux sends PR_SET_PDEATHSIG when the
    thread that started the child ends, not the process.
    """

    def __init__(self, settings: Settings, wait_seconds: float = 60.0) -> None:
        super().__init__(name="signet-dev-demo", daemon=True)
        self.settings = settings
        self.wait_seconds = wait_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        if not self._issuer_answers():
            return
        env = {**os.environ, "SIGNET_VERIFIER_ISSUER": self.settings.issuer_url,
               "SIGNET_VERIFIER_AUDIENCE": DEMO_AUDIENCE}
        port = self.settings.port + DEMO_PORT_OFFSET
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [sys.executable, "-m", "uvicorn", f"{SERVICE_PACKAGE}.demo:app", "--host", "127.0.0.1", "--port",
             str(port), "--log-level", "warning"], env=env, preexec_fn=_die_with_parent)
        self.process.wait()

    def _issuer_answers(self) -> bool:
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "::", "") else self.settings.host  # noqa: S104 - a comparison, not a bind
        url = f"http://{host}:{self.settings.port}/healthz"
        deadline = time.monotonic() + self.wait_seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1.0)
                return True
            except httpx.TransportError:
                self._stopping.wait(0.1)
        return False

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _die_with_parent() -> None:
    """Linux: SIGTERM the demo when `signet dev` dies, however it dies (uvicorn re-raises a
    SIGTERM it caught, so no `finally` of ours runs to stop the child)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the `finally` in `signet dev` is the only stop


def demo_service_lines(settings: Settings, secret: str) -> tuple[str, ...]:
    token = (f"$(curl -s -u {DEMO_CLIENT_ID}:{secret} -d grant_type=client_credentials"
             f" {settings.issuer_url}/token | python3 -c 'import json,sys;"
             f" print(json.load(sys.stdin)[\"access_token\"])')")
    return (f"Demo service (verifies Signet tokens): {demo_service_url(settings)}",
            f"  call it:      curl -s -H \"Authorization: Bearer {token}\""
            f" {demo_service_url(settings)}/whoami")
