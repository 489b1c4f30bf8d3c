"""A reverse proxy in front of moto that injects KMS faults: latency, throttling, 5xx,
dropped connections and hangs. Fault injection only: the KMS behind it is real moto.

Usage: python -m tests.support.fault_proxy --upstream http://127.0.0.1:5000 --port 5001
Control: POST /__fault__ {"delay_ms": 20, "fault": "throttle", "rate": 0.5 or "every": 2,
                          "operations": ["Sign"]}   (fault: none|throttle|denied|500|drop|hang)
         GET  /__fault__ -> the current settings and counters per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import Counter
from dataclasses import asdict, dataclass, field

from aiohttp import ClientSession, ClientTimeout, web

FAULTS = ("none", "throttle", "denied", "500", "drop", "hang")


@dataclass
class FaultSettings:
    delay_ms: float = 0.0
    fault: str = "none"
    rate: float = 1.0  # share of matching requests that get the fault (random)...
    every: int = 0  # ...or, when > 0, exactly every Nth matching request (deterministic)
    operations: list[str] = field(default_factory=list)  # empty: every operation


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.settings = FaultSettings()
        self.calls: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.matched = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.random = random.Random(seed)
        self.session: ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("POST", "/__fault__", self.configure)
        app.router.add_route("GET", "/__fault__", self.report)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _: web.Application) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=60), auto_decompress=False)

    async def _stop(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def configure(self, request: web.Request) -> web.Response:
        data = await request.json()
        settings = FaultSettings(**data)
        if settings.fault not in FAULTS:
            return web.json_response({"error": f"fault must be one of {FAULTS}"}, status=400)
        self.settings = settings
        self.matched = 0
        self.max_in_flight = 0
        return web.json_response(asdict(settings))

    async def report(self, _: web.Request) -> web.Response:
        return web.json_response({"settings": asdict(self.settings), "calls": dict(self.calls),
                                  "faults": dict(self.faults), "max_in_flight": self.max_in_flight})

    async def forward(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._forward(request)
        finally:
            self.in_flight -= 1

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1] or request.path
        self.calls[operation] += 1
        settings = self.settings
        if settings.delay_ms:
            await asyncio.sleep(settings.delay_ms / 1000)
        matches = not settings.operations or operation in settings.operations
        if matches:
            self.matched += 1
        chosen = (self.matched % settings.every == 0) if settings.every else (
            self.random.random() < settings.rate)
        if matches and settings.fault != "none" and chosen:
            self.faults[operation] += 1
            return await self._fault(request, settings.fault)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        assert self.session is not None
        async with self.session.request(request.method, self.upstream + request.path_qs,
                                        headers=headers, data=body) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")}
            return web.Response(status=upstream.status, body=payload, headers=out)

    async def _fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "throttle":
            return web.json_response({"__type": "ThrottlingException", "message": "Rate exceeded"},
                                     status=400, content_type="application/x-amz-json-1.1")
        if fault == "denied":  # what IAM answers a role without the permission
            return web.json_response({"__type": "AccessDeniedException", "message": "injected: not"
                                      " authorized to perform the operation"},
                                     status=400, content_type="application/x-amz-json-1.1")
        if fault == "500":
            return web.json_response({"__type": "KMSInternalException", "message": "injected"},
                                     status=500, content_type="application/x-amz-json-1.1")
        if fault == "hang":
            await asyncio.sleep(3600)
        transport = request.transport
        if transport is not None:
            transport.abort()  # "drop": the connection dies without an answer
        raise asyncio.CancelledError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"fault_proxy: injecting faults in front of {args.upstream} (tests only)", flush=True)
    # handler_cancellation: a "hang" ends when the client gives up, not an hour later.
    web.run_app(FaultProxy(args.upstream, args.seed).app(), host="127.0.0.1", port=args.port,
                print=None, access_log=None, handler_cancellation=True, shutdown_timeout=1)


if __name__ == "__main__":
    main()
