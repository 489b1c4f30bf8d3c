"""`signet dev` (what `make run` runs): a demo client, the curl lines to try, then the issuer.

The demo client's secret must be printable on every start, so it is kept in
`demo-client.json` (mode 0600) next to the clients file; the registry itself holds only
its hash, as for every client. Development only: production clients come from
`signet clients add`, whose secrets are shown once and stored nowhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.client_secrets import generate_secret, hash_secret, secret_matches
from app.clients import Client, editing
from app.settings import Settings

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
    """What `signet dev` prints after the issuer's URLs: the demo client and its curl."""
    secret = ensure_demo_client(settings)
    return (f"  get a token:  curl -s -u {DEMO_CLIENT_ID}:{secret}"
            f" -d grant_type=client_credentials {settings.issuer_url}/token",
            f"  (demo client '{DEMO_CLIENT_ID}' is registered in {settings.clients_file}; its secret is"
            f" kept in {demo_secret_file(settings)}, mode 0600, so this line can be printed again)")
