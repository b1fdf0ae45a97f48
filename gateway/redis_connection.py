"""The one way the gateway connects to Redis: short timeouts and one immediate retry (a pooled
connection broken by a Redis restart reconnects at once), no backoff loops, because every caller
already falls back to local state and tries again on its next cycle."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["DEFAULT_PREFIX", "connect_redis"]

DEFAULT_PREFIX = "switchyard:"
CONNECT_TIMEOUT_S = 0.5
COMMAND_TIMEOUT_S = 2.0


def connect_redis(url: str, *, max_connections: int = 64) -> Redis:
    """A pooled asyncio client for `url`; connects lazily, fails fast when Redis is away."""
    return Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1), max_connections=max_connections, health_check_interval=30,
    )
