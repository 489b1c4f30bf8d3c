"""A real redis-server the way production should run one: TLS only (a CA made here), the
default user off, and an ACL user confined to one deployment's key prefix."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.processes import Service, free_port

# Channel every Signet issuer announces key changes on (signet.channels): not prefixed.
ANNOUNCE_CHANNEL = "signet:issuer-keys-changed"


@dataclass
class SecureRedis:
    service: Service
    port: int
    ca_file: Path
    prefix: str
    user: str
    password: str
    admin_password: str

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """rediss:// URL with credentials and the CA to verify the server against."""
        return (f"rediss://{user or self.user}:{password or self.password}@127.0.0.1:{self.port}/0"
                f"?ssl_ca_certs={self.ca_file}")

    def admin_url(self) -> str:
        return self.url("admin", self.admin_password)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1; returns (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("signet test CA")).issuer_name(_name("signet test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


def start_secure_redis(directory: Path, prefix: str) -> SecureRedis:
    """redis-server on a free port: TLS only, no default user, `signet` confined to `prefix`."""
    ca, cert, key = write_tls_files(directory)
    port = free_port()
    password, admin_password = "signet-" + "p" * 24, "admin-" + "q" * 24
    config = directory / "redis.conf"
    config.write_text("\n".join([
        "port 0", f"tls-port {port}", "bind 127.0.0.1", 'save ""', "appendonly no",
        f"tls-cert-file {cert}", f"tls-key-file {key}", f"tls-ca-cert-file {ca}", "tls-auth-clients no",
        "user default off",
        # The deployment's keys and channels, plus the issuers' key-change channel; no admin commands.
        f"user signet on >{password} ~{prefix}* &{prefix}* &{ANNOUNCE_CHANNEL} +@all -@admin -@dangerous",
        f"user admin on >{admin_password} ~* &* +@all",
    ]) + "\n")
    service = Service("redis-tls", ["redis-server", str(config)])
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1"):
                return SecureRedis(service, port, ca, prefix, "signet", password, admin_password)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server with TLS did not start:\n{service.output()}")
