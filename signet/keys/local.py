"""Private keys as PKCS#8 PEM files on disk: the embedded default, for development and tests.

File names carry the algorithm (`ES256-20261128T104700Z.pem`) because an RSA key alone
does not say whether it signs RS256 or PS512, and RFC 8725 wants one algorithm per key.
The newest file for the configured algorithm signs; every loadable file is published.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signet import signatures
from signet.algorithms import ALGORITHMS, Algorithm, KeyFamily, algorithm_fits_key
from signet.keys.base import KeyConfigurationError, PublishedKey

SETTING = "SIGNET_LOCAL_KEY_DIR"


@dataclass(frozen=True, slots=True)
class LocalSigningKey:
    published: PublishedKey
    private_key: signatures.PrivateKey
    path: Path

    async def sign(self, data: bytes) -> bytes:
        if self.published.alg.family is KeyFamily.RSA:
            # An RSA signature costs milliseconds: keep the event loop free meanwhile.
            return await asyncio.to_thread(signatures.sign, self.published.alg, self.private_key, data)
        return signatures.sign(self.published.alg, self.private_key, data)


def generate_private_key(alg: Algorithm, rsa_key_bits: int = 2048) -> signatures.PrivateKey:
    if alg.family is KeyFamily.EC:
        return ec.generate_private_key(alg.new_curve())
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_bits)


def write_private_key(directory: Path, alg: Algorithm, key: signatures.PrivateKey,
                      now: datetime | None = None) -> Path:
    """Create a new 0600 PEM file; O_EXCL so an existing key is never overwritten."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{alg.name}-{stamp}.pem"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = directory / f".{path.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)  # readers never see half a key
    return path


class LocalKeyBackend:
    name = "local"

    def __init__(self, key_dir: Path, alg: Algorithm, rsa_key_bits: int = 2048) -> None:
        self.key_dir = key_dir
        self.alg = alg
        self.rsa_key_bits = rsa_key_bits
        self._keys: list[LocalSigningKey] = []
        self._signing: LocalSigningKey | None = None

    async def open(self) -> None:
        self._prepare_directory()
        self._keys = [self._load(path) for path in sorted(self.key_dir.glob("*.pem"))]
        candidates = [k for k in self._keys if k.published.alg is self.alg]
        if not candidates:
            path = write_private_key(self.key_dir, self.alg,
                                     generate_private_key(self.alg, self.rsa_key_bits))
            candidates = [self._load(path)]
            self._keys.append(candidates[0])
        # Names sort by time stamp, so the last one is the newest key for this algorithm.
        self._signing = max(candidates, key=lambda k: k.path.name)

    def _prepare_directory(self) -> None:
        try:
            self.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyConfigurationError(SETTING, f"cannot create {self.key_dir}: {exc.strerror}") from None
        if not os.access(self.key_dir, os.R_OK | os.W_OK | os.X_OK):
            raise KeyConfigurationError(SETTING, f"{self.key_dir} is not readable and writable")

    def _load(self, path: Path) -> LocalSigningKey:
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyConfigurationError(
                    SETTING, f"{path} is accessible by group or others (mode {oct(mode & 0o777)});"
                    f" run: chmod 600 {path}")
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise KeyConfigurationError(SETTING, f"cannot read {path}: {exc.strerror}") from None
        except (ValueError, TypeError) as exc:
            raise KeyConfigurationError(SETTING, f"{path} is not an unencrypted PKCS#8 PEM"
                                        f" private key ({exc})") from None
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyConfigurationError(SETTING, f"{path}: only RSA and EC keys are supported")
        alg = self._algorithm_for(path, private_key.public_key())
        published = PublishedKey(alg, private_key.public_key())
        return LocalSigningKey(published, private_key, path)

    def _algorithm_for(self, path: Path, public_key: object) -> Algorithm:
        prefix = path.stem.split("-", 1)[0]
        if prefix in ALGORITHMS:
            alg = ALGORITHMS[prefix]
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            alg = next((a for a in ALGORITHMS.values() if a.curve_name
                        and a.new_curve().name == public_key.curve.name), self.alg)
        elif self.alg.family is KeyFamily.RSA:
            alg = self.alg
        else:
            raise KeyConfigurationError(
                SETTING, f"{path}: cannot tell which RSA algorithm this key is for;"
                " name the file <ALG>-<anything>.pem, e.g. RS256-prod.pem")
        if not algorithm_fits_key(alg, public_key):
            raise KeyConfigurationError(SETTING, f"{path}: the key does not fit {alg.name}")
        return alg

    def signing_key(self) -> LocalSigningKey:
        assert self._signing is not None, "open() first"
        return self._signing

    def published_keys(self) -> list[PublishedKey]:
        return [k.published for k in self._keys]

    async def check_reachable(self) -> None:
        return None  # the key is in memory: signing cannot fail for lack of a network

    async def aclose(self) -> None:
        return None
