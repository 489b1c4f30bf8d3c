"""A private event loop on a daemon thread, where all of a verifier's network I/O runs.

Why: the verifier is shared by whatever calls it (an ASGI app's loop, worker threads,
plain sync code). Its Redis and httpx clients, locks and background tasks live on this
one loop, so single-flight holds across all callers and no client is bound to a loop
that may close. Callers never wait for it except on a key-cache miss.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class IoThread:
    def __init__(self, name: str = "signet-verifier-io") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                # Daemon: a process that never closes its verifier still exits.
                self._thread = threading.Thread(target=run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._ensure_started()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("the verifier's I/O thread cannot wait for itself")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run on the I/O loop and block this thread for the result."""
        return self.submit(coro).result(timeout)

    async def call_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on the I/O loop; the calling loop stays free meanwhile."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
