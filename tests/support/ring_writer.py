"""Rewrites keyring.json through RingFile as fast as it can, until killed: the victim of
tests/integration/test_shutdown.py, which SIGKILLs it at random points and then reads the ring.

Usage: python -m tests.support.ring_writer DIRECTORY   (prints "ready" once writing)
Ring version v holds 1 + v % 5 keys with exactly one active (see `expected_ring`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from signet.keyring import KeyRecord, KeyState
from signet.keys.ringfile import RingFile


def expected_ring(version: int) -> tuple[KeyRecord, ...]:
    """The records written at `version`: a ring a reader can check exactly."""
    count = 1 + version % 5
    return tuple(KeyRecord(kid=f"kid-{version}-{i}", alg="ES256",
                           state=KeyState.ACTIVE if i == 0 else KeyState.PENDING,
                           created_at=1_800_000_000.0 + version, ref=f"ES256-{version}-{i}.pem" * 20)
                 for i in range(count))


async def write_forever(directory: Path) -> None:
    ring = RingFile(directory)
    print("ready", flush=True)
    while True:
        async with ring.lock():
            version = ring.read().version if ring.exists() else 0
            ring.write(version, expected_ring(version + 1))


if __name__ == "__main__":
    asyncio.run(write_forever(Path(sys.argv[1])))
