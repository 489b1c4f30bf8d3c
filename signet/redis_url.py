"""SIGNET_REDIS_URL -> a redis-py asyncio client: the one place both the issuer and the
verifiers turn a Redis URL into a client, so a single Redis, a Redis Cluster and a
Sentinel-managed primary are spelled the same way everywhere.

- `redis://[user:pass@]host:port/db`, `rediss://...`, `unix:///path.sock`: one server
  (redis-py's own URL syntax, unchanged).
- `redis+cluster://[user:pass@]host:port[,host:port...]` (`rediss+cluster://` for TLS):
  Redis Cluster; the nodes listed are only where discovery starts.
- `redis+sentinel://[user:pass@]host:port[,host:port...]/service[/db]`
  (`rediss+sentinel://`: TLS to the primary): the primary the sentinels name for
  `service`, followed through failovers. The password, if any, is the primary's.

Cluster and Sentinel clients answer the same commands Signet uses (GET/SET, INCR,
pipelines, redis-py locks, PUBLISH/SUBSCRIBE), so callers never ask which one they got.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SCHEMES = SINGLE_SCHEMES + CLUSTER_SCHEMES + SENTINEL_SCHEMES
SCHEMES_TEXT = ", ".join(f"{scheme}://" for scheme in SCHEMES)


def _hosts(netloc: str, url: str) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{redact(url)}: expected host:port[,host:port...], got {item!r}")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def _credentials(netloc: str) -> dict[str, Any]:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return {}
    user, colon, password = userinfo.partition(":")
    found = {"username": unquote(user)} if user else {}
    if colon:
        found["password"] = unquote(password)
    return found


def redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, tail = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{tail}"


def check_redis_url(url: str) -> None:
    """Raise ValueError naming what is wrong with `url` (never echoing its password)."""
    scheme = url.partition("://")[0].lower()
    if "://" not in url or scheme not in SCHEMES:
        raise ValueError(f"must start with one of {SCHEMES_TEXT}")
    parts = urlsplit(url)
    if scheme in CLUSTER_SCHEMES:
        _hosts(parts.netloc, url)
        if parts.path.strip("/"):
            raise ValueError(f"{redact(url)}: a cluster URL has no database path (cluster has db 0 only)")
    elif scheme in SENTINEL_SCHEMES:
        _hosts(parts.netloc, url)
        service, _, db = parts.path.strip("/").partition("/")
        if not service:
            raise ValueError(f"{redact(url)}: name the service: redis+sentinel://host:port/SERVICE[/db]")
        if db and not db.isdigit():
            raise ValueError(f"{redact(url)}: the database after the service must be a number")


def redis_from_url(url: str, *, timeout: float | None = None, **options: Any) -> Any:
    """An asyncio client (Redis, RedisCluster, or a Sentinel's primary) for `url`.

    `timeout` bounds connecting and each command; `options` go to the client as is.
    Raises ValueError for a URL it cannot use.
    """
    check_redis_url(url)
    if timeout is not None:
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, **options}
    scheme = url.partition("://")[0].lower()
    parts = urlsplit(url)
    if scheme in CLUSTER_SCHEMES:
        from redis.asyncio.cluster import ClusterNode, RedisCluster
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialWithJitterBackoff

        options.pop("health_check_interval", None)  # per-connection in cluster mode: not needed
        # redis-py's cluster default backs off up to seconds between retries when a node is
        # down; Signet falls back to memory instead, so it retries briefly and gives up.
        options.setdefault("retry", Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2))
        nodes = [ClusterNode(host, port) for host, port in _hosts(parts.netloc, url)]
        return RedisCluster(startup_nodes=nodes, ssl=scheme.startswith("rediss"),
                            **_credentials(parts.netloc), **options)
    if scheme in SENTINEL_SCHEMES:
        from redis.asyncio.sentinel import Sentinel

        service, _, db = parts.path.strip("/").partition("/")
        sentinel_options = {key: value for key, value in options.items()
                            if key in ("socket_timeout", "socket_connect_timeout")}
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            _hosts(parts.netloc, url), sentinel_kwargs=sentinel_options)
        return sentinel.master_for(service, ssl=scheme.startswith("rediss"), db=int(db or 0),
                                   **_credentials(parts.netloc), **options)
    import redis.asyncio as redis

    return redis.Redis.from_url(url, **options)
