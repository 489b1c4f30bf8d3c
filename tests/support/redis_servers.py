"""Real redis-server processes on loopback for fault tests: one server that can be killed
(SIGKILL, by pid) and restarted empty on the same port, a 3-master Redis Cluster, and a
Sentinel watching a primary. Nothing here is simulated."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.processes import Service, free_port, wait_port

NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """One redis-server on a fixed loopback port: kill() it, start() it again, empty."""

    def __init__(self, port: int | None = None, *extra: str) -> None:
        self.port = port or free_port()
        self.extra = list(extra)
        self.service: Service | None = None
        # Replication writes an RDB file even with persistence off: keep it out of the repo.
        self.dir = tempfile.mkdtemp(prefix=f"signet-redis-{self.port}-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.service = Service(f"redis-{self.port}", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
            *NO_PERSISTENCE, *self.extra])
        wait_port(self.port)
        return self

    @property
    def pid(self) -> int:
        assert self.service is not None
        return self.service.process.pid

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, nothing saved (persistence is off)."""
        assert self.service is not None
        os.kill(self.pid, signal.SIGKILL)
        self.service.process.wait(10)
        self.service.stop()
        self.service = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """Masters (three by default) with cluster mode on, slots assigned by `redis-cli --cluster
    create`; with `replicas=1`, one replica per master that takes over when it dies."""

    def __init__(self, masters: int = 3, replicas: int = 0) -> None:
        self.replicas = replicas
        self.dir = Path(tempfile.mkdtemp(prefix="signet-cluster-"))
        self.nodes: list[RedisServer] = []
        for _ in range(masters * (1 + replicas)):
            port = free_cluster_port()
            self.nodes.append(RedisServer(
                port, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                "--cluster-replica-validity-factor", "0",  # a replica may always take over
                "--cluster-config-file", str(self.dir / f"nodes-{port}.conf")))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        subprocess.run(["redis-cli", "--cluster", "create",
                        *(f"127.0.0.1:{node.port}" for node in self.nodes),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        if not self.wait_ok(self.nodes[0]):
            raise RuntimeError("redis cluster did not reach cluster_state:ok")
        deadline = time.monotonic() + 30
        while self.replicas and sum(self._replicating(node) for node in self.nodes) < len(self.nodes) // 2:
            if time.monotonic() > deadline:
                raise RuntimeError("cluster replicas did not sync with their masters")
            time.sleep(0.1)
        return self

    @staticmethod
    def _replicating(node: RedisServer) -> bool:
        info = node.client().info("replication")
        return bool(info.get("role") == "slave" and info.get("master_link_status") == "up")

    def wait_ok(self, node: RedisServer, timeout: float = 30.0) -> bool:
        """Whether `node` sees the cluster healthy (all slots served, every node known)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.client().cluster("info").get("cluster_state") == "ok":
                return True
            time.sleep(0.1)
        return False

    def wait_failover(self, dead: RedisServer, timeout: float = 60.0) -> bool:
        """Whether the others mark `dead` failed and serve every slot again (its replica
        promoted) within `timeout`."""
        survivor = next(node for node in self.nodes if node is not dead)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = subprocess.run(["redis-cli", "-p", str(survivor.port), "cluster", "nodes"],
                                   capture_output=True, text=True, timeout=10).stdout.splitlines()
            flags = next((line.split()[2] for line in lines if f":{dead.port}@" in line), "")
            if "fail" in flags.split(",") and self.wait_ok(survivor, timeout=0.1):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisSentinel:
    """A primary and one sentinel (`redis-server --sentinel`) that names it `service`; with
    `replica`, also a replica the sentinel promotes about a second after the primary dies."""

    def __init__(self, service: str = "signet", replica: bool = False) -> None:
        self.service = service
        self.primary = RedisServer()
        self.replica = (RedisServer(None, "--replicaof", "127.0.0.1", str(self.primary.port))
                        if replica else None)
        self.dir = Path(tempfile.mkdtemp(prefix="signet-sentinel-"))
        self.port = free_port()
        self.sentinel: Service | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}"

    def start(self) -> RedisSentinel:
        self.primary.start()
        if self.replica is not None:
            self.replica.start()
        config = self.dir / "sentinel.conf"  # sentinel rewrites its config: a file of its own
        config.write_text(f"port {self.port}\nbind 127.0.0.1\n"
                          f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 1\n"
                          f"sentinel down-after-milliseconds {self.service} 1000\n"
                          f"sentinel failover-timeout {self.service} 5000\n")
        self.sentinel = Service("sentinel", ["redis-server", str(config), "--sentinel"])
        wait_port(self.port)
        deadline = time.monotonic() + 30
        probe = redis.Redis(port=self.port, socket_timeout=2)
        while time.monotonic() < deadline:
            try:
                if probe.execute_command("SENTINEL", "get-master-addr-by-name", self.service):
                    return self
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("sentinel does not know the primary")

    def primary_port(self) -> int:
        """The port of the server the sentinel currently names primary."""
        probe = redis.Redis(port=self.port, socket_timeout=2)
        return int(probe.execute_command("SENTINEL", "get-master-addr-by-name", self.service)[1])

    def stop(self) -> None:
        if self.sentinel is not None:
            self.sentinel.stop()
        self.primary.stop()
        if self.replica is not None:
            self.replica.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
