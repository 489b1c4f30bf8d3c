"""Reading an operator's file of bounded size: at most `limit` bytes, never a hang.

One helper for every file named by configuration (the verifier's issuers file and JWKS
files, the issuer's federation issuers file): a JWKS file is re-read while serving, so a
path that vanished, grew past its limit or now names a FIFO or a device must give a clear
error at once. Opened non-blocking and required to be a regular file, a FIFO without a
writer cannot block the event loop.
"""

from __future__ import annotations

import os
import stat

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class FileReadError(Exception):
    """The file could not be used; str() says why and names the path."""


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The file's bytes, or FileReadError: unreadable, not a regular file, or over `limit`."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except OSError as exc:
        raise FileReadError(f"cannot read {name!r}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileReadError(f"{name!r} is not a regular file")
        chunks, size = [], 0
        while size <= limit:  # read() of a regular file may return less than asked
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileReadError(f"cannot read {name!r}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileReadError(f"{name!r} is larger than {limit} bytes")
    return b"".join(chunks)
