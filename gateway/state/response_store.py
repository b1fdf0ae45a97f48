"""Stored Responses API answers (`store: true`), for `previous_response_id` and `GET /v1/responses/{id}`.

A stored entry is the response object and the chat conversation that led to it, as JSON bytes,
kept `ttl_s` seconds. With Redis configured every replica shares them (`SET ... EX`, one round
trip, under the cluster's key prefix); without, a bounded in-process store keeps the newest
`max_entries` (oldest evicted first).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["ResponseStore", "MemoryResponseStore", "RedisResponseStore", "ResponseStoreError"]

log = logging.getLogger("switchyard.responses")


class ResponseStoreError(Exception):
    """The store could not be read or written (Redis away)."""


class ResponseStore(Protocol):
    async def put(self, response_id: str, entry: bytes) -> None: ...

    async def get(self, response_id: str) -> bytes | None: ...


class MemoryResponseStore:
    """The newest `max_entries` entries of this process, each for `ttl_s` seconds."""

    def __init__(self, *, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def put(self, response_id: str, entry: bytes) -> None:
        self._entries[response_id] = (time.monotonic() + self.ttl_s, entry)
        self._entries.move_to_end(response_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def get(self, response_id: str) -> bytes | None:
        found = self._entries.get(response_id)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del self._entries[response_id]
            return None
        return found[1]


class RedisResponseStore:
    """Entries under `{prefix}response:{id}` with Redis's own expiry."""

    def __init__(self, redis: Redis, prefix: str, *, ttl_s: float) -> None:
        self.redis = redis
        self.prefix = f"{prefix}response:"
        self.ttl_ms = max(int(ttl_s * 1000), 1)

    async def put(self, response_id: str, entry: bytes) -> None:
        try:
            await self.redis.set(self.prefix + response_id, entry, px=self.ttl_ms)
        except (RedisError, OSError) as exc:
            raise ResponseStoreError(f"cannot store response {response_id}: {type(exc).__name__}") from exc

    async def get(self, response_id: str) -> bytes | None:
        try:
            return await self.redis.get(self.prefix + response_id)
        except (RedisError, OSError) as exc:
            raise ResponseStoreError(f"cannot read response {response_id}: {type(exc).__name__}") from exc
