"""Private keys as PKCS#8 PEM files on disk: the embedded default, for development and tests.

The key ring (which key is pending, active, retiring, retired) lives in keyring.json
beside the PEM files. File names carry the algorithm (`ES256-20261128T104700123456Z.pem`)
because an RSA key alone does not say whether it signs RS256 or PS512, and RFC 8725
wants one algorithm per key.

A new key is written as `<name>.pem.creating`, recorded in the ring, then renamed; a
crash at any point is repaired at the next start: an unrecorded `.creating` file is
deleted (it was never published, so nothing was signed with it), a recorded one is
renamed into place. A `*.pem` file the ring does not know (an operator's import) is
adopted as pending: published at once, signing after the publish lead.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signet import signatures
from signet.algorithms import ALGORITHMS, Algorithm, KeyFamily, algorithm_fits_key
from signet.keyring import KeyRecord, KeyState, RingSnapshot, active_key, add_pending
from signet.keys.base import KeyConfigurationError, KeyUnavailableError, PublishedKey
from signet.keys.ringfile import RingFile
from signet.rotation import ensure_active

SETTING = "SIGNET_LOCAL_KEY_DIR"
CREATING_SUFFIX = ".creating"


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
    if alg.family is KeyFamily.OKP:
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_bits)


def write_private_key(path: Path, key: signatures.PrivateKey) -> None:
    """Create a 0600 PEM file; O_EXCL so an existing key is never overwritten."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def _rename_new(source: Path, target: Path) -> None:
    """Rename without ever replacing an existing key file (link fails if target exists)."""
    os.link(source, target)
    os.unlink(source)


def key_file_name(alg: Algorithm, now: float, kid: str) -> str:
    """Sorts by creation time; the kid prefix keeps two keys made in one instant apart."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{alg.name}-{stamp}-{kid[:12]}.pem"


class LocalKeyBackend:
    name = "local"

    def __init__(self, key_dir: Path, alg: Algorithm, rsa_key_bits: int = 2048,
                 clock: Callable[[], float] = time.time) -> None:
        self.key_dir = key_dir
        self.alg = alg
        self.rsa_key_bits = rsa_key_bits
        self.clock = clock
        self.ring = RingFile(key_dir)
        self._keys: dict[str, LocalSigningKey] = {}  # published keys by kid
        self._signing: LocalSigningKey | None = None
        self.snapshot = RingSnapshot(0, ())

    # --- KeyBackend ----------------------------------------------------------------------

    async def open(self) -> None:
        self._prepare_directory()
        await ensure_active(self, self.alg.name, self.clock)

    def signing_key(self) -> LocalSigningKey:
        if self._signing is None:
            raise KeyUnavailableError(f"no active {self.alg.name} key in the ring")
        return self._signing

    def published_keys(self) -> list[PublishedKey]:
        return [k.published for k in self._keys.values()]

    async def check_reachable(self) -> None:
        self.signing_key()  # the key is in memory: only a missing active key can stop signing

    async def aclose(self) -> None:
        return None

    # --- key ring primitives (used by signet.rotation) -----------------------------------

    @asynccontextmanager
    async def ring_lock(self) -> AsyncIterator[None]:
        async with self.ring.lock():
            yield

    async def read_ring(self) -> RingSnapshot:
        return self._read() if self.ring.exists() else RingSnapshot(0, ())

    async def repair_ring(self) -> None:
        """Repair what a crash may have left, adopt imported files. Call under the lock."""
        if not self.ring.exists():
            self._migrate_plain_directory()
            return
        snapshot = self._read()
        known = {r.ref for r in snapshot.records}
        for leftover in self.key_dir.glob(f"*.pem{CREATING_SUFFIX}"):
            final = leftover.with_name(leftover.name.removesuffix(CREATING_SUFFIX))
            if final.name in known and not final.exists():
                _rename_new(leftover, final)  # recorded but not yet renamed
            else:
                leftover.unlink()  # never recorded, never published, never signed
        imported = [p for p in sorted(self.key_dir.glob("*.pem")) if p.name not in known]
        records = list(snapshot.records)
        for path in imported:
            key = self._load(path)
            if not any(r.kid == key.published.kid for r in records):  # else a copy of a known key
                records = add_pending(records, key.published.kid, key.published.alg.name,
                                      path.name, self.clock())
        if len(records) != len(snapshot.records):
            self.ring.write(snapshot.version, records)

    async def write_ring(self, expected_version: int, records: list[KeyRecord]) -> RingSnapshot:
        return self.ring.write(expected_version, records)

    async def create_key(self, alg_name: str) -> KeyRecord:
        """Write a new private key as `.creating`; `key_recorded` renames it once in the ring."""
        alg = ALGORITHMS[alg_name]
        now = self.clock()
        private_key = await asyncio.to_thread(generate_private_key, alg, self.rsa_key_bits)
        kid = PublishedKey(alg, private_key.public_key()).kid
        name = key_file_name(alg, now, kid)
        write_private_key(self.key_dir / (name + CREATING_SUFFIX), private_key)
        return KeyRecord(kid, alg.name, KeyState.PENDING, created_at=now, ref=name)

    async def key_recorded(self, record: KeyRecord) -> None:
        path = self.key_dir / record.ref
        _rename_new(path.with_name(path.name + CREATING_SUFFIX), path)

    async def key_unpublished(self, record: KeyRecord) -> None:
        return None  # the file stays until deleted by hand; it no longer signs or verifies

    async def use_ring(self, snapshot: RingSnapshot) -> None:
        """Serve exactly the published keys of `snapshot`; sign with its active key."""
        keys: dict[str, LocalSigningKey] = {}
        for record in snapshot.records:
            if record.published:
                known = self._keys.get(record.kid)
                keys[record.kid] = known if known else self._load(self.key_dir / record.ref)
        active = active_key(snapshot.records, self.alg.name)
        self._keys = keys
        self._signing = keys.get(active.kid) if active else None
        self.snapshot = snapshot

    # --- internals -----------------------------------------------------------------------

    def _read(self) -> RingSnapshot:
        try:
            return self.ring.read()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyConfigurationError(SETTING, f"{self.ring.path} is unreadable: {exc}") from None

    def _migrate_plain_directory(self) -> None:
        """A directory from before keyring.json: the newest key of the configured algorithm
        stays active; every other key retires (published until its tokens expire)."""
        now = self.clock()
        loaded = [self._load(p) for p in sorted(self.key_dir.glob("*.pem"))]
        ours = [k for k in loaded if k.published.alg is self.alg]
        newest = max(ours, key=lambda k: k.path.name) if ours else None
        records: list[KeyRecord] = []
        for key in loaded:
            if any(r.kid == key.published.kid for r in records):
                continue
            active = key is newest
            records.append(KeyRecord(key.published.kid, key.published.alg.name,
                                     KeyState.ACTIVE if active else KeyState.RETIRING,
                                     created_at=now, ref=key.path.name, activated_at=now,
                                     retiring_at=None if active else now))
        if records:
            self.ring.write(0, records)

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
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise KeyConfigurationError(SETTING, f"{path}: only RSA, EC and Ed25519 keys are"
                                        " supported")
        alg = self._algorithm_for(path, private_key.public_key())
        return LocalSigningKey(PublishedKey(alg, private_key.public_key()), private_key, path)

    def _algorithm_for(self, path: Path, public_key: object) -> Algorithm:
        prefix = path.stem.split("-", 1)[0]
        if prefix in ALGORITHMS:
            alg = ALGORITHMS[prefix]
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            alg = next((a for a in ALGORITHMS.values() if a.family is KeyFamily.EC
                        and a.new_curve().name == public_key.curve.name), self.alg)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            # EdDSA and Ed25519 are one signature: the configured name if it is one of them.
            alg = self.alg if self.alg.family is KeyFamily.OKP else ALGORITHMS["EdDSA"]
        elif self.alg.family is KeyFamily.RSA:
            alg = self.alg
        else:
            raise KeyConfigurationError(
                SETTING, f"{path}: cannot tell which RSA algorithm this key is for;"
                " name the file <ALG>-<anything>.pem, e.g. RS256-prod.pem")
        if not algorithm_fits_key(alg, public_key):
            raise KeyConfigurationError(SETTING, f"{path}: the key does not fit {alg.name}")
        return alg
