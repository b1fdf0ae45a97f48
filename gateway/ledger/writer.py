"""The usage ledger's writer: an O(1) append per attempt on the event loop, batched writes off it.

`on_outcome` (an `OutcomeHub` listener) turns an attempt into a row and appends it to a list.
Batches are written in the background, one at a time: to the Redis stream when one is configured
(one pipelined XADD round trip per batch, in a task), else to SQLite on the writer's own thread
(one queue put there and one callback back on the loop per batch: no flusher task, no executor
future; about half the CPU of a `run_in_executor` round trip, measured). `commit()` starts a
batch at once; a row nobody commits is written after `flush_interval_s` (one timer per interval,
not per row). When Redis fails, batches go to SQLite directly (one warning per outage), so
nothing waits on Redis; when every sink fails, rows stay buffered and are retried.

Durability before the response completes: `await commit()` returns once every row appended so
far is durable (in Redis, or committed to SQLite's WAL), sharing one write among every request
waiting at that moment (group commit). Dispatch awaits it before the client's last bytes (the
non-streamed body, or `data: [DONE]`), so a gateway SIGKILLed after a response completed has
already stored that response's record. Cost: one loopback round trip (Redis XADD pipeline, or a
thread hand-off plus an un-fsynced SQLite commit, about 0.1 ms on a 2-core machine) at the end
of each response, shared by all concurrent requests; TTFT is not affected. Rows appended while a
batch is being written go out together in the next one, so under load one commit serves many
responses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
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
        self._writing = False  # a batch is being written; the next one starts when it is done
        self._written_waiters: list[asyncio.Future[None]] = []
        self._flush_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._failing = False
        self._stream_down_until = 0.0
        self._drain_failing = False
        self._thread = _WriterThread("ledger-sqlite")

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
        """Queue one row (O(1)); it is written with the next batch, at the latest after `flush_interval_s`."""
        self._rows.append(row)
        self.appended += 1
        if len(self._rows) >= self.batch_size:
            self._kick()
        elif self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(self.flush_interval_s, self._on_timer)

    async def commit(self, timeout_s: float | None = 5.0) -> bool:
        """Wait until every row appended so far is durable; False (and a warning) after `timeout_s`."""
        target = self.appended
        if self.durable >= target:
            return True
        loop = self._loop
        if loop is None:
            await self.flush()
            return self.durable >= target
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((target, future))
        self._kick()
        timer = loop.call_later(timeout_s, _time_out, future) if timeout_s is not None else None
        try:
            await future
        except TimeoutError:
            log.warning("ledger: records not yet durable after %.1f s; the response completes anyway", timeout_s)
            return False
        finally:
            if timer is not None:
                timer.cancel()
        return True

    # -- background -------------------------------------------------------------------------

    def start(self) -> None:
        """Write batches on the running loop from now on (app start-up)."""
        self._loop = asyncio.get_running_loop()

    def _on_timer(self) -> None:
        self._timer = None
        self._kick()

    def _kick(self) -> None:
        """Start writing the buffered rows, unless a batch is being written (its end starts the next one).

        SQLite: a hand-off to the writer thread, whose answer comes back as a callback (no task);
        the Redis stream: one task per batch.
        """
        if self._writing or not self._rows or self._loop is None:
            return
        rows, self._rows = self._rows, []
        self._writing = True
        if self.stream is not None and time.monotonic() >= self._stream_down_until:
            self._loop.create_task(self._append_to_stream(rows))
        else:
            self._thread.submit(self._loop, functools.partial(self._written, rows), self.ledger.write, rows)

    async def _append_to_stream(self, rows: list[Row]) -> None:
        assert self.stream is not None and self._loop is not None
        try:
            await self.stream.append(rows)
        except (RedisError, OSError) as exc:
            self._stream_failed(exc)
            self._thread.submit(self._loop, functools.partial(self._written, rows), self.ledger.write, rows)
            return
        except Exception as exc:  # noqa: BLE001 - kept buffered and retried like any failed write
            self._written(rows, None, exc)
            return
        self._stream_answered()
        self._written(rows, None, None)

    def _written(self, rows: list[Row], result: object, error: BaseException | None) -> None:
        """A background batch is done (on the loop): count it durable, or put it back to retry."""
        self._writing = False
        if error is None:
            self.durable += len(rows)
            if self._failing:
                log.info("ledger: writing records again")
                self._failing = False
            self._release_waiters()
        else:
            self._rows[:0] = rows
            if len(self._rows) > self.max_buffered_rows:
                self._drop_oldest()
            if not self._failing:
                log.error("ledger: writing %d record(s) failed (%s: %s); they stay buffered and are retried every %g s",
                          len(rows), type(error).__name__, error, self.flush_interval_s)
                self._failing = True
        for waiter in self._written_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._written_waiters.clear()
        if not self._rows or self._loop is None:
            return
        if error is None and (self._waiters or len(self._rows) >= self.batch_size):
            self._kick()  # group commit: everything that arrived meanwhile, in one batch
        elif self._timer is None:
            self._timer = self._loop.call_later(self.flush_interval_s, self._on_timer)

    async def flush(self) -> None:
        """Write everything buffered now (after a batch in flight); on failure the rows stay buffered and it raises."""
        async with self._flush_lock:
            while self._writing:
                waiter = asyncio.get_running_loop().create_future()
                self._written_waiters.append(waiter)
                await waiter
            while self._rows:
                rows, self._rows = self._rows, []
                self._writing = True
                try:
                    await self._write(rows)
                except Exception:
                    self._rows[:0] = rows
                    if len(self._rows) > self.max_buffered_rows:
                        self._drop_oldest()
                    raise
                finally:
                    self._writing = False
                self.durable += len(rows)
                self._release_waiters()

    async def _write(self, rows: list[Row]) -> None:
        if self.stream is not None and time.monotonic() >= self._stream_down_until:
            try:
                await self.stream.append(rows)
            except (RedisError, OSError) as exc:
                self._stream_failed(exc)
            else:
                self._stream_answered()
                return
        await self.run_in_thread(self.ledger.write, rows)

    def _stream_failed(self, exc: BaseException) -> None:
        if self._stream_down_until == 0.0:
            log.warning("ledger: Redis stream unavailable (%s); writing to %s directly until it returns",
                        type(exc).__name__, self.ledger.path)
        self._stream_down_until = time.monotonic() + STREAM_RETRY_S

    def _stream_answered(self) -> None:
        if self._stream_down_until:
            log.info("ledger: Redis stream is back")
            self._stream_down_until = 0.0

    async def run_in_thread(self, func: Any, *args: Any) -> Any:
        """Run blocking ledger I/O on the writer's own thread."""
        return await self._thread.run(func, *args)

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None  # no more background batches: flush writes what is left
        await self.flush()
        if self.stream is not None:
            await self.drain()  # what Redis cannot give now, another replica or the next start drains
        self._release_waiters()
        await asyncio.to_thread(self._thread.shutdown)

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


def _time_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _WriterThread:
    """One daemon thread running blocking ledger calls in order; each result comes back to its caller's loop.

    Cheaper than `loop.run_in_executor`: a `SimpleQueue.put` there, one `call_soon_threadsafe` back,
    no concurrent.futures.Future in between.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Callable[[Any, BaseException | None], None],
                                             Callable[..., Any], tuple[Any, ...]] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """`func(*args)` on the thread; its result (or exception) here."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.submit(loop, functools.partial(_settle, future), func, *args)
        return await future

    def submit(self, loop: asyncio.AbstractEventLoop, done: Callable[[Any, BaseException | None], None],
               func: Callable[..., Any], *args: Any) -> None:
        """`func(*args)` on the thread, then `done(result, error)` on `loop`."""
        if self._thread is None:
            self._start()
        self._queue.put((loop, done, func, args))

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, done, func, args = item
            try:
                result, error = func(*args), None
            except BaseException as exc:  # handed to the caller
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(done, result, error)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                pass

    def shutdown(self) -> None:
        """Finish the queued calls and stop the thread (blocking)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
