"""The usage ledger's writer: an O(1) append per attempt on the event loop, batched writes off it.

`on_outcome` (an `OutcomeHub` listener) turns an attempt into a row and appends it to a list.
A flusher task writes the list in batches: to the Redis stream when one is configured (one
pipelined XADD round trip per batch), else to SQLite in a dedicated worker thread. When Redis
fails, batches go to SQLite directly (one warning per outage), so nothing waits on Redis.

Durability before the response completes: `await commit()` returns once every row appended so
far is durable (in Redis, or committed to SQLite's WAL), sharing one write among every request
waiting at that moment (group commit). Dispatch awaits it before the client's last bytes (the
non-streamed body, or `data: [DONE]`), so a gateway SIGKILLed after a response completed has
already stored that response's record. Cost: one loopback round trip (Redis XADD pipeline, or a
thread hand-off plus an un-fsynced SQLite commit) at the end of each response, shared by all
concurrent requests; TTFT is not affected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis.exceptions import RedisError

from gateway.costing import AttemptCost, CostBook
from gateway.ledger.record import Row, row_from_outcome
from gateway.ledger.sqlite_sink import SqliteLedger
from gateway.ledger.stream import LedgerStream
from gateway.outcomes import AttemptOutcome

__all__ = ["LedgerWriter"]

log = logging.getLogger("switchyard.ledger")

STREAM_RETRY_S = 5.0  # after a Redis failure, batches go to SQLite this long before Redis is tried again


class LedgerWriter:
    """Buffers ledger rows and makes them durable in batches; see the module docstring."""

    def __init__(
        self,
        ledger: SqliteLedger,
        *,
        costs: CostBook | None = None,
        stream: LedgerStream | None = None,
        flush_interval_s: float = 0.2,
        batch_size: int = 512,
        max_buffered_rows: int = 200_000,
    ) -> None:
        self.ledger = ledger
        self.costs = costs
        self.stream = stream
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.max_buffered_rows = max_buffered_rows
        self.appended = 0  # rows ever appended
        self.durable = 0  # rows ever made durable (in order: the first `durable` appended rows)
        self.dropped = 0  # rows dropped because the buffer was full while every sink failed
        self._rows: list[Row] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stream_down_until = 0.0
        self._drain_failing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sqlite")

    # -- the request path -------------------------------------------------------------------

    def on_outcome(self, outcome: AttemptOutcome) -> None:
        """OutcomeHub listener: price the attempt and queue its row."""
        costs = self.costs
        if costs is None:
            cost, family = AttemptCost(outcome.cost_usd, None), None
        else:
            cost, family = costs.cost(outcome.backend, outcome.usage, outcome.latency_ms), costs.family(outcome.backend)
        self.append(row_from_outcome(outcome, cost, family))

    def append(self, row: Row) -> None:
        """Queue one row (O(1)); the flusher writes it."""
        self._rows.append(row)
        self.appended += 1
        if len(self._rows) >= self.batch_size:
            self._wake.set()

    async def commit(self, timeout_s: float | None = 5.0) -> bool:
        """Wait until every row appended so far is durable; False (and a warning) after `timeout_s`."""
        target = self.appended
        if self.durable >= target:
            return True
        if self._task is None:
            await self.flush()
            return self.durable >= target
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            log.warning("ledger: records not yet durable after %.1f s; the response completes anyway", timeout_s)
            return False
        return True

    # -- background -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher on the running loop (app start-up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ledger-flusher")

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # a sink failure is logged in flush; never let the flusher die
                log.exception("ledger: flush failed")
                await asyncio.sleep(self.flush_interval_s)

    async def flush(self) -> None:
        """Write everything buffered now; on failure the rows stay buffered for the next try."""
        async with self._flush_lock:
            while self._rows:
                rows, self._rows = self._rows, []
                try:
                    await self._write(rows)
                except Exception:
                    self._rows[:0] = rows
                    if len(self._rows) > self.max_buffered_rows:
                        self._drop_oldest()
                    raise
                self.durable += len(rows)
                self._release_waiters()

    async def _write(self, rows: list[Row]) -> None:
        if self.stream is not None and time.monotonic() >= self._stream_down_until:
            try:
                await self.stream.append(rows)
            except (RedisError, OSError) as exc:
                if self._stream_down_until == 0.0:
                    log.warning("ledger: Redis stream unavailable (%s); writing to %s directly until it returns",
                                type(exc).__name__, self.ledger.path)
                self._stream_down_until = time.monotonic() + STREAM_RETRY_S
            else:
                if self._stream_down_until:
                    log.info("ledger: Redis stream is back")
                    self._stream_down_until = 0.0
                return
        await self.run_in_thread(self.ledger.write, rows)

    async def run_in_thread(self, func: Any, *args: Any) -> Any:
        """Run blocking ledger I/O on the writer's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def drain(self) -> int:
        """Move the Redis stream into SQLite (a scheduler job); 0 without a stream or while Redis is away
        (one warning per outage: the entries wait in Redis, and new records go to SQLite directly)."""
        if self.stream is None:
            return 0
        try:
            moved = await self.stream.drain(self.ledger, self.run_in_thread)
        except (RedisError, OSError) as exc:
            if not self._drain_failing:
                log.warning("ledger: cannot drain the Redis stream (%s); trying again every run", type(exc).__name__)
                self._drain_failing = True
            return 0
        if self._drain_failing:
            log.info("ledger: draining the Redis stream again")
            self._drain_failing = False
        return moved

    async def close(self) -> None:
        """Graceful shutdown: flush, drain what this replica can, stop the thread."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
        if self.stream is not None:
            await self.drain()  # what Redis cannot give now, another replica or the next start drains
        self._release_waiters()
        self._executor.shutdown(wait=True)

    def _release_waiters(self) -> None:
        still = []
        for target, future in self._waiters:
            if self.durable >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    def _drop_oldest(self) -> None:
        excess = len(self._rows) - self.max_buffered_rows
        del self._rows[:excess]
        self.dropped += excess
        self.durable += excess  # nothing is in flight here: `durable` keeps counting positions
        log.error("ledger: every sink is failing and %d rows are buffered; dropped the %d oldest",
                  self.max_buffered_rows, excess)
