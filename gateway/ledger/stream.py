"""The ledger's Redis stream: records are XADDed in one pipeline per batch, and a drainer moves them
into SQLite, acknowledging (XACK + XDEL) only after the SQLite commit.

A record acknowledged to the writer is in Redis, so it survives the gateway being killed; a
drainer killed between its SQLite commit and its XACK leaves the entries pending, they are
delivered again (to this consumer, or claimed by another after `claim_idle_ms`) and the
idempotent insert stores them once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gateway.ledger.record import COLUMNS, Row
from gateway.ledger.sqlite_sink import SqliteLedger

__all__ = ["LedgerStream"]

FIELD = b"r"

RunInThread = Callable[..., Awaitable[Any]]


_ADDED_DEFAULTS: tuple[Any, ...] = (0, None)
"""Defaults of the columns added since the first release (usage_estimated, protocol), in COLUMNS order."""


def _row(entry: bytes) -> Row:
    """A stream entry as a row; entries XADDed before a column was added get its default."""
    row = tuple(orjson.loads(entry))
    missing = len(COLUMNS) - len(row)
    return row + _ADDED_DEFAULTS[len(_ADDED_DEFAULTS) - missing:] if missing > 0 else row


class LedgerStream:
    """One Redis stream of ledger rows and its consumer group."""

    def __init__(self, redis: Redis, *, key: str, consumer: str, group: str = "ledger", claim_idle_ms: int = 30_000,
                 batch_size: int = 500) -> None:
        self.redis = redis
        self.key = key
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.batch_size = batch_size
        self._group_ready = False

    async def append(self, rows: Sequence[Row]) -> None:
        """XADD every row in one round trip; returns once Redis has them all."""
        pipe = self.redis.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(self.key, {FIELD: orjson.dumps(row)})
        await pipe.execute()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _next_batch(self) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        """Own pending entries first, then entries idle on other consumers, then new ones."""
        mine = await self.redis.xreadgroup(self.group, self.consumer, {self.key: "0"}, count=self.batch_size)
        if mine and mine[0][1]:
            return mine[0][1]
        claimed = await self.redis.xautoclaim(
            self.key, self.group, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch_size
        )
        if claimed[1]:
            return claimed[1]
        fresh = await self.redis.xreadgroup(self.group, self.consumer, {self.key: ">"}, count=self.batch_size)
        return fresh[0][1] if fresh else []

    async def drain(self, ledger: SqliteLedger, run_in_thread: RunInThread, max_batches: int = 100) -> int:
        """Move stream entries into `ledger` until the stream is empty (or `max_batches`); returns rows moved."""
        await self._ensure_group()
        moved = 0
        for _ in range(max_batches):
            try:
                entries = await self._next_batch()
            except ResponseError as exc:  # Redis restarted empty: the group went with the stream
                if "NOGROUP" not in str(exc):
                    raise
                self._group_ready = False
                await self._ensure_group()
                entries = await self._next_batch()
            if not entries:
                break
            rows = [_row(fields[FIELD]) for _, fields in entries if fields and FIELD in fields]
            await run_in_thread(ledger.write, rows)
            ids = [entry_id for entry_id, _ in entries]
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(self.key, self.group, *ids)
            pipe.xdel(self.key, *ids)
            await pipe.execute()
            moved += len(rows)
        return moved

    async def length(self) -> int:
        """Entries not yet drained."""
        return await self.redis.xlen(self.key)
