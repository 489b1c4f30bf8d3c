"""A hard bound on the request head for `signet serve`, enforced while it is still arriving.

The ASGI guard (app/asgi/request_limits.py) answers 431 only once the server has parsed the whole
header block, and uvicorn's httptools parser buffers a header of any size first: one 50 MB
header costs the process about 100 MB before any limit can apply. This subclass counts the
bytes of a request head as they are received and, past `max_head_bytes`, answers 431 and
closes the connection without parsing further.

It also bounds the time a request may take to *arrive*: a connection that has not delivered
a whole request (head and body) within `read_timeout` seconds of its first byte (or of
being opened) gets 408 and is closed, so slow or stalled clients cannot hold file
descriptors for ever. The clock stops once the request is complete: a slow handler is not
cut off, and idle keep-alive connections are uvicorn's (`timeout_keep_alive`).

The bound is twice what the guard allows (header bytes plus the request target), so every
request the guard would accept passes untouched, and requests between the two limits still
get the guard's precise answer. Under any other server, put a proxy with a header limit in
front (docs/threat-model.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..asgi.request_limits import MAX_TARGET_BYTES


def head_limit(max_header_bytes: int) -> int:
    """Raw bytes of request line and headers allowed before the head is refused unparsed."""
    return 2 * (max_header_bytes + MAX_TARGET_BYTES)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head longer than `max_head_bytes`."""

    max_head_bytes = head_limit(16384)
    read_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._completed = False
        self._read_timer: asyncio.TimerHandle | None = None
        self._awaiting_request = True  # no byte of the next request seen yet

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is bounded too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if self.pipeline:
            # Requests wait, unread, behind an earlier request's handler (uvicorn pauses
            # reading meanwhile): a handler's time is not bounded here, so the arriving
            # request gets a full read timeout from now instead of cutting that answer short.
            self._arm()
            return
        if not self.transport.is_closing():
            self._answer(408, b"Request Timeout",
                         f"the request did not arrive within {self.read_timeout:g} s")

    def on_message_begin(self) -> None:
        # Every request starts its own clock, also one that begins in the same chunk as the
        # end of the previous one (pipelining): that request was never "awaited" by
        # data_received, and without this its unfinished body would hold the connection.
        super().on_message_begin()
        self._awaiting_request = False
        self._disarm()
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # the whole request is in: its handler's time is not bounded here
        self._awaiting_request = True
        super().on_message_complete()
        self._in_head, self._head_bytes, self._completed = True, 0, True

    def data_received(self, data: bytes) -> None:
        self._completed = False
        # The first byte after a request starts the clock, also bytes that begin no message yet
        # (blank lines before a request line): on_message_begin alone would miss those.
        if self._awaiting_request:
            self._awaiting_request = False
            self._disarm()
            self._arm()
        super().data_received(data)
        # Still inside a head after this chunk: all of it was head (unless a message ended in
        # it, when the next head's share is unknown and at most one chunk goes uncounted).
        if self._in_head and not self._completed and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse()

    def _refuse(self) -> None:
        self._answer(431, b"Request Header Fields Too Large",
                     f"request head larger than {self.max_head_bytes} bytes")

    def _answer(self, status: int, reason: bytes, description: str) -> None:
        self._disarm()
        body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
        self.transport.write(b"HTTP/1.1 " + str(status).encode() + b" " + reason + b"\r\n"
                             b"content-type: application/json\r\ncache-control: no-store\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\n"
                             b"connection: close\r\n\r\n" + body)
        self.transport.close()


# The class of each pair of bounds is named after them, so a worker process (`--workers`,
# which receives its uvicorn config pickled) finds the same class by name in this module.
_NAMED = re.compile(r"BoundedHttpToolsProtocol_(\d+)_(\d+)ms")


def bounded_protocol(max_header_bytes: int, read_timeout: float = 10.0) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, bounded for this SIGNET_MAX_HEADER_BYTES and
    SIGNET_REQUEST_READ_TIMEOUT_SECONDS (to the millisecond)."""
    return _bounded(max_header_bytes, max(1, round(read_timeout * 1000)))


@functools.cache
def _bounded(max_header_bytes: int, read_timeout_ms: int) -> type[BoundedHttpToolsProtocol]:
    name = f"BoundedHttpToolsProtocol_{max_header_bytes}_{read_timeout_ms}ms"
    return type(name, (BoundedHttpToolsProtocol,), {
        "max_head_bytes": head_limit(max_header_bytes), "read_timeout": read_timeout_ms / 1000,
        "__module__": __name__, "__qualname__": name})


def __getattr__(name: str) -> type[BoundedHttpToolsProtocol]:
    """A bounded class by its name: how pickle finds it again in a worker process."""
    found = _NAMED.fullmatch(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _bounded(int(found[1]), int(found[2]))
