"""keyring.json beside the PEM files: the local backend's durable key ring.

Written atomically (temp file, fsync, rename, fsync of the directory) and guarded by an
flock, so replicas sharing a directory take turns and a crash never leaves half a file.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from signet.keyring import KeyRecord, RingSnapshot, record_from_dict, record_to_dict

FORMAT = 1
TMP_SUFFIX = ".tmp"


class RingConflict(RuntimeError):
    """The ring changed since it was read: re-read and plan again."""


class RingFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "keyring.json"
        self._lock_path = directory / "keyring.lock"

    @asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> RingSnapshot:
        data = json.loads(self.path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{self.path}: unknown format {data.get('format')!r}")
        records = tuple(record_from_dict(item) for item in data["keys"])
        return RingSnapshot(int(data["version"]), records)

    def write(self, expected_version: int, records: Sequence[KeyRecord]) -> RingSnapshot:
        """Replace the ring if it is still at `expected_version` (0 = no file yet)."""
        current = self.read().version if self.exists() else 0
        if current != expected_version:
            raise RingConflict(f"{self.path} is at version {current}, expected {expected_version}")
        self._remove_leftovers()
        snapshot = RingSnapshot(expected_version + 1, tuple(records))
        body = json.dumps({"format": FORMAT, "version": snapshot.version,
                           "keys": [record_to_dict(r) for r in records]}, indent=2)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}{TMP_SUFFIX}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
        return snapshot

    def _remove_leftovers(self) -> None:
        """Temp files of writers killed before their rename (caller holds the lock, so no
        live writer owns one): they were never the ring and would pile up."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
