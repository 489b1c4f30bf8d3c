"""Run the issuer under uvicorn with a bounded graceful shutdown that exits 0.

On SIGTERM (or SIGINT) uvicorn stops accepting connections, lets in-flight requests
finish for at most SIGNET_SHUTDOWN_GRACE_SECONDS, runs the lifespan shutdown and returns.
Stock uvicorn then re-raises the signal, so the process would end "killed by SIGTERM"
even after a clean drain; orchestrators read that as a crash. Here a drained shutdown
returns normally, so `signet serve` exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE as UVICORN_STARTUP_FAILURE

# The service's top-level package: `app` in the repository, `signet_issuer` installed.
SERVICE_PACKAGE = (__package__ or "app").partition(".")[0]

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Every start-up failure (a setting, an unusable key, the port in use) exits like the CLI's
# other configuration errors; uvicorn's own code for it would be 3.
STARTUP_FAILURE = 2


class GracefulServer(uvicorn.Server):
    """uvicorn.Server that handles SIGTERM/SIGINT itself and does not re-raise them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run_issuer(host: str, port: int, grace_seconds: float, workers: int = 1, **options: Any) -> int:
    """Serve app.main:app until a signal; 0 once drained (uvicorn cancels requests still
    running after `grace_seconds`, so shutdown is bounded). The app is named after this
    package: `app` in the repository, `signet_issuer` in the installed wheel.

    With `workers` > 1, uvicorn's supervisor binds the socket once and runs that many worker
    processes on it, each a whole issuer (its own event loop, caches and signing key handle);
    SIGTERM to the supervisor drains every worker within `grace_seconds`, then it exits 0."""
    # log_config=None: uvicorn keeps the handlers app.telemetry.logs installed (one format).
    config = uvicorn.Config(f"{SERVICE_PACKAGE}.main:app", host=host, port=port,
                            timeout_graceful_shutdown=grace_seconds, workers=workers,
                            log_config=None, **options)
    if workers > 1:
        return _run_workers(config)
    server = GracefulServer(config)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits 3 itself when it cannot bind or start the app
        if exc.code == UVICORN_STARTUP_FAILURE:
            return STARTUP_FAILURE
        raise
    return 0 if server.started else STARTUP_FAILURE


def _run_workers(config: uvicorn.Config) -> int:
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # A worker that could not start stops the supervisor (uvicorn does not restart it); the
    # worker exits with uvicorn's own code for that, the supervisor with Signet's.
    if any(process.exitcode in (UVICORN_STARTUP_FAILURE, STARTUP_FAILURE)
           for process in supervisor.processes):
        return STARTUP_FAILURE
    return 0
