"""Clean-up of the Redis keys a benchmark's gateway left under its own prefix."""

from __future__ import annotations

from benchmarks.harness.entry import log

__all__ = ["delete_redis_keys"]


def delete_redis_keys(url: str, prefix: str) -> None:
    """Remove what the gateway left under this run's Redis prefix."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        with Redis.from_url(url) as client:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
    except RedisError as exc:
        log(f"note: could not delete the benchmark's Redis keys under {prefix}: {exc}")
