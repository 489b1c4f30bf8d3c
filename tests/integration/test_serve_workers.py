"""`signet serve --workers N`: N uvicorn worker processes on one socket, each with the request
bounds of `signet serve`, all drained and gone after SIGTERM, exit 0.

Real: `python -m app serve` as a subprocess (uvicorn's supervisor and its spawned workers),
loopback sockets, the local ES256 key. Which worker holds a connection is read from /proc
(socket inodes of each worker's file descriptors), so the test knows every worker answered.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Service, free_port
from tests.support.tokens import add_client, post_token, verify_access_token

AUDIENCE = "api://workers"


def children(pid: int) -> list[int]:
    """The worker processes of a supervisor (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(int(child))
    return found


def server_sockets(port: int) -> dict[str, int]:
    """Inode -> client port of every established TCP socket whose local port is `port`."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port:
            found[inode] = int(remote.split(":")[1], 16)
    return found


def holder(pids: list[int], client_port: int, port: int) -> int | None:
    """The worker whose file descriptors hold the server side of this client's connection."""
    inodes = {inode for inode, peer in server_sockets(port).items() if peer == client_port}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return pid
    return None


def serve(tmp: Path, *args: str, **env: str) -> tuple[Service, int, dict[str, str]]:
    port = free_port()
    settings = {"SIGNET_PORT": str(port), "SIGNET_ISSUER": f"http://127.0.0.1:{port}",
                "SIGNET_LOCAL_KEY_DIR": str(tmp / "keys"),
                "SIGNET_CLIENTS_FILE": str(tmp / "clients.yaml"), **env}
    return Service("serve-workers", [sys.executable, "-m", "app", "serve", *args], settings), port, settings


def test_workers_serve_tokens_with_the_request_bounds_in_every_worker_and_stop_cleanly(
        tmp_path: Path) -> None:
    env = {"SIGNET_CLIENTS_FILE": str(tmp_path / "clients.yaml")}
    secret = add_client(env, "svc", "--scope", "read", "--audience", AUDIENCE) or ""
    service, port, _ = serve(tmp_path, "--workers", "2", SIGNET_REQUEST_READ_TIMEOUT_SECONDS="2")
    base = f"http://127.0.0.1:{port}"
    try:
        service.wait_http(base + "/healthz")
        deadline = time.monotonic() + 20
        while len(children(service.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = children(service.process.pid)
        assert len(workers) == 2, (workers, service.output())
        for _ in range(4):
            response = post_token(base, {"grant_type": "client_credentials"}, auth=("svc", secret))
            assert response.status_code == 200, response.text
            assert verify_access_token(base, response.json()["access_token"], AUDIENCE)["sub"] == "svc"
        # Idle connections until each worker holds one: every one of them must get the read
        # bound's 408 (stock uvicorn would keep an idle connection open, then close it silently).
        held: dict[int, list[socket.socket]] = {}
        opened = []
        for _ in range(60):
            sock = socket.create_connection(("127.0.0.1", port), timeout=15)
            opened.append(sock)
            pid = None
            for _ in range(20):
                pid = holder(workers, sock.getsockname()[1], port)
                if pid is not None:
                    break
                time.sleep(0.02)
            held.setdefault(pid or 0, []).append(sock)
            if all(held.get(w) for w in workers):
                break
        assert all(held.get(w) for w in workers), {w: len(held.get(w, [])) for w in workers}
        for sock in opened:
            with sock:
                answer = sock.makefile("rb").read()
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
            assert b"did not arrive within 2 s" in answer
        service.process.send_signal(signal.SIGTERM)
        assert service.wait_exit(30) == 0, service.output()
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
                f"/proc/{pid}/status").read_text(), f"worker {pid} outlived the supervisor"
    finally:
        service.stop()


def test_every_worker_refuses_an_oversized_head_unparsed(tmp_path: Path) -> None:
    """The head bound (431 before parsing) is the protocol class's: pickled to each worker."""
    service, port, _ = serve(tmp_path, "--workers", "2", SIGNET_MAX_HEADER_BYTES="4096")
    try:
        service.wait_http(f"http://127.0.0.1:{port}/healthz")
        for _ in range(6):
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                try:  # as test_request_limits: send until the server stops reading
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
                    for _ in range(800):
                        sock.sendall(b"a" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                answer = sock.makefile("rb").read()
            assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
            assert b"request head larger than" in answer
    finally:
        service.stop()


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_bad_worker_count_is_a_usage_error(tmp_path: Path, value: str) -> None:
    _, _, env = serve(tmp_path)
    result = subprocess.run([sys.executable, "-m", "app", "serve", "--workers", value],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--workers" in result.stderr and "positive number or auto" in result.stderr


def test_workers_auto_is_one_per_usable_core() -> None:
    from app.cli.main import worker_count

    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count("3") == 3


def test_a_worker_that_cannot_start_stops_the_supervisor_with_the_startup_failure_code(
        tmp_path: Path) -> None:
    """A broken key directory fails every worker's start-up: no restart loop, exit 2 (a start-up failure)."""
    keys = tmp_path / "keys"
    keys.write_text("not a directory")
    service, port, _ = serve(tmp_path, "--workers", "2")
    try:
        assert service.wait_exit(60) == 2, service.output()
    finally:
        service.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
