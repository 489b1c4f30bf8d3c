"""Closing a verifier never hangs, whatever its Redis pub/sub listener does.

redis-py's pub/sub read can swallow a task's cancellation (seen: a listener left
"cancelling" inside `PubSub.listen()` for ever, holding `aclose()` and the process's
shutdown). Fault injection: the listener's pub/sub object is wrapped so that its read
swallows the cancellation, as redis-py's did; everything else is real (Redis on loopback,
a JWKS served over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis.asyncio as aioredis

from signet.verifier import Verifier, jwks_cache

ISSUER = "https://close.test"


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"keys":[]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


class SwallowingPubSub:
    """A real redis-py PubSub whose read, once cancelled, carries on as if it was not."""

    def __init__(self, real: Any, forever: bool) -> None:
        self._real = real
        self._forever = forever
        self.swallowed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def get_message(self, **options: Any) -> Any:
        try:
            return await self._real.get_message(**options)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
            self.swallowed += 1
            if self._forever:
                await asyncio.Event().wait()  # never set: this task will not end by itself
            await asyncio.sleep(options.get("timeout") or 0.1)
            return None

    async def listen(self) -> AsyncIterator[Any]:
        while True:
            message = await self.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                yield message


async def started_with_swallowing_listener(jwks_url: str, redis_url: str,
                                           forever: bool) -> tuple[Verifier, list[SwallowingPubSub]]:
    verifier = Verifier(issuer=ISSUER, audience="api://close", jwks_url=jwks_url, redis_url=redis_url,
                        redis_prefix=f"signet-test:{uuid.uuid4().hex}:")
    store = verifier._cache._store
    assert store is not None
    real_pubsub = store.client.pubsub
    wrapped: list[SwallowingPubSub] = []

    def pubsub(**options: Any) -> SwallowingPubSub:
        wrapped.append(SwallowingPubSub(real_pubsub(**options), forever))
        return wrapped[-1]

    store.client.pubsub = pubsub  # type: ignore[method-assign]
    await verifier.start()
    probe = aioredis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        deadline = time.monotonic() + 10
        while dict(await probe.pubsub_numsub(store.channel)).get(store.channel.encode(), 0) < 1:
            assert time.monotonic() < deadline, "the verifier never subscribed"
            await asyncio.sleep(0.05)
    finally:
        await probe.aclose()
    return verifier, wrapped


async def test_aclose_ends_a_listener_whose_read_swallows_the_cancellation(
        jwks_url: str, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    verifier, wrapped = await started_with_swallowing_listener(jwks_url, redis_url, forever=False)
    with caplog.at_level(logging.WARNING, logger="signet.verifier"):
        await asyncio.wait_for(verifier.aclose(), 15)
    assert [w.swallowed for w in wrapped] == [1], "the fault was not injected"
    assert "did not stop" not in caplog.text  # the listener ended; it was not abandoned


# The abandoned task is destroyed with its loop; Python reports that, as it should.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_aclose_is_bounded_even_if_a_task_never_ends(
        jwks_url: str, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    verifier, wrapped = await started_with_swallowing_listener(jwks_url, redis_url, forever=True)
    with caplog.at_level(logging.WARNING, logger="signet.verifier"):
        await asyncio.wait_for(verifier.aclose(), jwks_cache.CLOSE_WAIT_SECONDS + 10)
    assert [w.swallowed for w in wrapped] == [1], "the fault was not injected"
    assert "verifier background tasks did not stop" in caplog.text
