"""Budgets and rate limits shared by every replica: one atomic Lua script per admission.

The script reads the key's rate windows and budget counters, refuses or reserves, all inside
Redis, so no two replicas can admit on the same remaining budget (no read-then-write). Settling
is a MULTI of HINCRBY/INCRBY, queued on the request path and sent in batches by a background
task. While Redis is away, admissions fall back to the in-process store (one warning), and that
replica enforces its limits locally until Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.costing import NANO_USD_PER_USD, to_nano_usd
from gateway.limits.key_limits import KeyLimits
from gateway.limits.memory import MemoryLimitStore, budget_refusal, rate_refusal
from gateway.limits.store import Reservation
from gateway.limits.windows import WINDOW_MS, budget_periods

__all__ = ["RedisLimitStore"]

log = logging.getLogger("switchyard.limits")

RETRY_REDIS_AFTER_S = 2.0
MAX_PENDING_SETTLEMENTS = 100_000

# KEYS: rpm current, rpm previous, tpm current, tpm previous, then one budget hash per period.
# ARGV: elapsed_ms, window_ms, rpm limit (0: none), tpm limit (0: none), tokens, expected nano-USD,
#       then (limit nano-USD, ttl s) per period.
# Returns {0, remaining nano-USD or -1} | {1, retry ms} (rpm) | {2, retry ms} (tpm) | {3, period index}.
# The arithmetic is gateway/limits/windows.py's (sliding_count, retry_after_ms).
RESERVE_LUA = """
local elapsed = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local function wait_ms(prev, cur, cost, limit)
  if cur + cost > limit then
    local nxt = 0
    if cur > 0 then nxt = math.max(0, window * (1 - (limit - cost) / cur)) end
    return window - elapsed + nxt
  end
  if prev <= 0 then return 0 end
  return math.max(0, window * (1 - (limit - cost - cur) / prev) - elapsed)
end
local function over(cur_key, prev_key, limit, cost)
  if limit <= 0 then return nil end
  if cost > limit then cost = limit end
  local cur = tonumber(redis.call('GET', cur_key) or '0')
  local prev = tonumber(redis.call('GET', prev_key) or '0')
  if prev * (window - elapsed) / window + cur + cost > limit then return wait_ms(prev, cur, cost, limit) end
  return nil
end
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = over(KEYS[1], KEYS[2], rpm, 1)
if wait then return {1, math.ceil(wait)} end
wait = over(KEYS[3], KEYS[4], tpm, tokens)
if wait then return {2, math.ceil(wait)} end
local expected = tonumber(ARGV[6])
local remaining = -1
for i = 5, #KEYS do
  local limit = tonumber(ARGV[7 + (i - 5) * 2])
  local counters = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local spent, reserved = tonumber(counters[1] or '0'), tonumber(counters[2] or '0')
  if spent >= limit or spent + reserved + expected > limit then return {3, i - 5} end
  local left = limit - spent - reserved - expected
  if remaining < 0 or left < remaining then remaining = left end
end
if rpm > 0 then redis.call('INCR', KEYS[1]); redis.call('PEXPIRE', KEYS[1], window * 2) end
if tpm > 0 then redis.call('INCRBY', KEYS[3], tokens); redis.call('PEXPIRE', KEYS[3], window * 2) end
for i = 5, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', expected)
  local ttl = tonumber(ARGV[8 + (i - 5) * 2])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return {0, remaining}
"""


class RedisLimitStore:
    """`LimitStore` over Redis; see the module docstring."""

    def __init__(self, redis: Redis, prefix: str, *, clock: Callable[[], float] = time.time,
                 settle_interval_s: float = 0.05) -> None:
        self.redis = redis
        self.prefix = prefix
        self._clock = clock
        self._reserve = redis.register_script(RESERVE_LUA)
        self._local = MemoryLimitStore(clock)
        self._remaining_nano: dict[str, int] = {}
        self._pending: list[tuple[Reservation, int, int]] = []
        self._wake = asyncio.Event()
        self._settle_interval_s = settle_interval_s
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()  # close() cancels the task only between flushes
        self._redis_down_until = 0.0

    def _key(self, key_name: str, suffix: str) -> str:
        return f"{self.prefix}limit:{{{key_name}}}:{suffix}"  # one hash slot per key (Redis Cluster)

    async def reserve(self, limits: KeyLimits, *, expected_usd: float, expected_tokens: int) -> Reservation | None:
        if limits.unlimited:
            return None
        if time.monotonic() < self._redis_down_until:
            return self._local.reserve_now(limits, expected_usd=expected_usd, expected_tokens=expected_tokens)
        now_s = self._clock()
        minute, elapsed_ms = divmod(int(now_s * 1000), WINDOW_MS)
        periods = budget_periods(limits.daily_usd, limits.monthly_usd, limits.total_usd, now_s)
        expected_nano = to_nano_usd(expected_usd) or 0
        keys = [self._key(limits.key_name, f"{kind}:{m}") for kind in ("rpm", "tpm") for m in (minute, minute - 1)]
        keys += [self._key(limits.key_name, f"budget:{p.period_id}") for p in periods]
        args: list[int] = [elapsed_ms, WINDOW_MS, limits.rpm or 0, limits.tpm or 0, expected_tokens, expected_nano]
        for period in periods:
            args += [period.limit_nano_usd, period.ttl_s]
        try:
            code, value = await self._reserve(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._redis_away(exc)
            return self._local.reserve_now(limits, expected_usd=expected_usd, expected_tokens=expected_tokens)
        self._redis_back()
        if code == 1 or code == 2:
            raise rate_refusal(limits, "rpm" if code == 1 else "tpm", value)
        if code == 3:
            raise budget_refusal(limits, periods[value].period_id)
        if value >= 0:
            self._remaining_nano[limits.key_name] = value
        return Reservation(limits.key_name, periods, expected_nano, minute, expected_tokens, limits.tpm is not None,
                           local=False)

    def settle(self, reservation: Reservation | None, *, actual_usd: float, actual_tokens: int) -> None:
        if reservation is None:
            return
        if reservation.local:
            self._local.settle(reservation, actual_usd=actual_usd, actual_tokens=actual_tokens)
            return
        self._pending.append((reservation, to_nano_usd(actual_usd) or 0, actual_tokens))
        self._wake.set()

    def remaining_usd(self, key_name: str) -> float | None:
        if time.monotonic() < self._redis_down_until:
            return self._local.remaining_usd(key_name)
        nano = self._remaining_nano.get(key_name)
        return None if nano is None else nano / NANO_USD_PER_USD

    def start(self) -> None:
        """Start the settlement task on the running loop (app start-up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="limits-settler")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except (RedisError, OSError):  # logged by _redis_away; the settlements stay queued
                await asyncio.sleep(RETRY_REDIS_AFTER_S)
                self._wake.set()
            await asyncio.sleep(self._settle_interval_s)  # batch what arrives meanwhile

    async def flush(self) -> None:
        """Send every queued settlement in one MULTI; on failure they stay queued (bounded)."""
        async with self._flush_lock:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        pipe = self.redis.pipeline(transaction=True)
        for reservation, actual_nano, actual_tokens in batch:
            for period in reservation.periods:
                budget = self._key(reservation.key_name, f"budget:{period.period_id}")
                pipe.hincrby(budget, "reserved", -reservation.reserved_nano_usd)
                pipe.hincrby(budget, "spent", actual_nano)
            if reservation.counts_tokens and actual_tokens != reservation.reserved_tokens:
                pipe.incrby(self._key(reservation.key_name, f"tpm:{reservation.minute}"), actual_tokens - reservation.reserved_tokens)
                pipe.pexpire(self._key(reservation.key_name, f"tpm:{reservation.minute}"), 2 * WINDOW_MS)
        try:
            results = iter(await pipe.execute())
        except (RedisError, OSError) as exc:
            self._pending[:0] = batch[-MAX_PENDING_SETTLEMENTS:]
            self._redis_away(exc)
            raise
        self._redis_back()
        for reservation, actual_nano, actual_tokens in batch:
            remaining = None
            for period in reservation.periods:
                reserved, spent = next(results), next(results)
                left = period.limit_nano_usd - spent - reserved
                remaining = left if remaining is None else min(remaining, left)
            if reservation.counts_tokens and actual_tokens != reservation.reserved_tokens:
                next(results), next(results)
            if remaining is not None:
                self._remaining_nano[reservation.key_name] = remaining

    async def close(self) -> None:
        if self._task is not None:
            async with self._flush_lock:
                self._task.cancel()
            self._task = None
        try:
            await self.flush()
        except (RedisError, OSError):
            log.warning("limits: %d settlements could not be written to Redis at shutdown", len(self._pending))

    def _redis_away(self, exc: BaseException) -> None:
        if self._redis_down_until == 0.0:
            log.warning("limits: Redis unavailable (%s); enforcing limits on this replica only until it returns",
                        type(exc).__name__)
        self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER_S

    def _redis_back(self) -> None:
        if self._redis_down_until:
            log.info("limits: Redis is back; limits are shared again")
            self._redis_down_until = 0.0
