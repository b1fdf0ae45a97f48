"""Which backend served each affinity key last (`affinity:` routes, policies.affinity), bounded.

The gateway looks the key up before `decide` and records the serving backend after a success.
Memory stays flat however many conversations pass:

- in process (`MemoryAffinityStore`): an LRU of at most `max_entries` keys, each expiring
  `ttl_s` after the last request that used it; about 300 bytes a key, so the default 100 000 keys
  hold ~30 MB at most;
- with Redis (`RedisAffinityStore`): one string per key, `<prefix>affinity:<route>:<digest>`,
  written with `SET ... PX ttl` on every success (the TTL counts from the last use), so every gateway
  replica agrees and Redis drops idle conversations itself. A lookup is one GET on the request path
  (a loopback round trip, well under a millisecond); while Redis fails the store answers from a
  local LRU it also keeps, and tries Redis again after `RETRY_REDIS_AFTER_S`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["AffinityStore", "MemoryAffinityStore", "RedisAffinityStore", "DEFAULT_MAX_ENTRIES"]

log = logging.getLogger("switchyard.affinity")

DEFAULT_MAX_ENTRIES = 100_000
RETRY_REDIS_AFTER_S = 1.0


class AffinityStore(Protocol):
    """Affinity key -> the backend that served it last."""

    async def lookup(self, key: str) -> str | None:
        """The remembered backend, or None when the key is unknown or expired."""
        ...

    async def remember(self, key: str, backend: str, ttl_s: float) -> None:
        """`backend` served `key`; forget it `ttl_s` seconds from now unless used again."""
        ...


class MemoryAffinityStore:
    """This process's keys: LRU-bounded to `max_entries`, each expiring `ttl_s` after its last use."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()  # key -> (expires at, backend), oldest first

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> str | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: str, backend: str, ttl_s: float) -> None:
        self._entries[key] = (self._clock() + ttl_s, backend)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def lookup(self, key: str) -> str | None:
        return self.get(key)

    async def remember(self, key: str, backend: str, ttl_s: float) -> None:
        self.put(key, backend, ttl_s)


class RedisAffinityStore:
    """Keys shared by every replica under `<prefix>affinity:`, with Redis's own expiry; see the module docstring."""

    def __init__(self, redis: Redis, prefix: str, *, max_local_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.prefix = f"{prefix}affinity:"
        self._local = MemoryAffinityStore(max_local_entries, clock)
        self._clock = clock
        self._retry_at = 0.0  # while Redis fails: when to try it again

    def _redis_usable(self) -> bool:
        return self._clock() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        if self._retry_at == 0.0:
            log.warning("affinity: Redis unavailable (%s); keeping affinity in this replica until it returns",
                        type(exc).__name__)
        self._retry_at = self._clock() + RETRY_REDIS_AFTER_S

    def _recovered(self) -> None:
        if self._retry_at:
            log.info("affinity: Redis is back; affinity shared again")
            self._retry_at = 0.0

    async def lookup(self, key: str) -> str | None:
        if self._redis_usable():
            try:
                found = await self.redis.get(self.prefix + key)
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                return found.decode() if found is not None else None
        return self._local.get(key)

    async def remember(self, key: str, backend: str, ttl_s: float) -> None:
        self._local.put(key, backend, ttl_s)
        if not self._redis_usable():
            return
        try:
            await self.redis.set(self.prefix + key, backend, px=max(int(ttl_s * 1000), 1))
        except (RedisError, OSError) as exc:
            self._failed(exc)
        else:
            self._recovered()
