"""State store shared by every replica through Redis, behind the same sync interface as the in-process one.

The request path never waits on Redis. Each replica keeps a `MemoryStateStore` of its own (its
windows, its circuit breakers, the figures its live jobs set) and answers every call from memory;
a background task (`sync`, every `sync_interval_s`) pushes this replica's news in one pipeline
and reads the cluster's state back:

- in-flight counts: one field per replica in `<prefix>state:<backend>:inflight`, summed over the
  replicas whose heartbeat in `<prefix>state:replicas` is fresh (a crashed replica stops counting);
- latency windows: one shared list of recent outcomes per backend (`...:samples`, newest first,
  `WINDOW_SIZE` long, each with its time), replayed through a `MemoryStateStore` so percentiles,
  error rate, token averages and the latency posterior's decayed statistics (`ttft_stats`,
  `tpot_stats`, what `prefer: latency` samples) mean exactly what they mean in one process, ages
  included: every replica learns from every replica's responses;
- the circuit: consecutive failures across replicas in `...:failures`, the outcomes of the last
  `window_attempts` attempts across replicas in `...:window` ('1' failed, '0' ok, newest first) and
  an opening in `...:open_until_ms`, updated by one Lua script with the policy's `circuit_breaker`
  settings: it opens on the same two conditions as one process's breaker (consecutive failures
  and the window's failure rate, see `gateway.live.circuit`). A circuit opened by any replica (or
  by failures spread over several) blocks the backend on every replica until the cool-down ends;
  then each replica's own breaker lets traffic try again, one more failure re-opens it for all if
  the window's rate still holds, and a success resets the count. Outcomes pushed while it is open
  (attempts admitted before it opened, or sent in panic mode) are ignored, as one process's
  breaker ignores every outcome but its trial's: a panic-mode success never closes it.

When Redis is away the store serves its local state alone, logs one warning, keeps what it
observes (bounded) and publishes it when Redis returns (resynchronisation).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backends.usage import Usage
from gateway.live.circuit import CircuitState
from gateway.outcomes import AttemptOutcome
from gateway.state.memory import WINDOW_SIZE, MemoryStateStore
from policies.schema import CircuitBreakerSpec
from policies.state import UNKNOWN_STATE, BackendState, StateSnapshot

__all__ = ["RedisStateStore"]

log = logging.getLogger("switchyard.state")

NOT_BACKEND_FAULTS = frozenset({"client_disconnected", "client_error"})  # say nothing about the backend's health
FORGET_REPLICA_AFTER_S = 3600  # heartbeats older than this are removed (the replica is long gone)
WINDOW_FIELDS = ("ttft_p50_ms", "ttft_p95_ms", "tpot_p50_ms", "tpot_p95_ms", "error_rate", "avg_output_tokens",
                 "cache_hit_ratio", "ttft_stats", "tpot_stats")  # what the shared window replaces in the local snapshot

# KEYS: failures, open_until_ms, window. ARGV: reset (1: a success came first), failures after it, threshold (0:
# breaker disabled), cooldown_ms, now_ms, outcomes since the last push ('1' failed, '0' ok, oldest first),
# window_attempts, minimum_attempts, failure_rate_threshold. Returns {consecutive failures, open_until_ms}.
# While the circuit is open (before its cool-down ends) the news is ignored, as one process's breaker ignores
# every outcome but its trial's: those attempts were admitted before it opened, or went in panic mode, and a
# success among them must not close it for everyone (only the first attempts after the cool-down decide).
CIRCUIT_LUA = """
local open_until = tonumber(redis.call('GET', KEYS[2]) or '0')
local now, threshold = tonumber(ARGV[5]), tonumber(ARGV[3])
if open_until > now then
  return {tonumber(redis.call('GET', KEYS[1]) or '0'), open_until}
end
local failures
if ARGV[1] == '1' then
  failures = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], failures)
  redis.call('DEL', KEYS[2])
  open_until = 0
else
  failures = redis.call('INCRBY', KEYS[1], ARGV[2])
end
local outcomes = ARGV[6]
for i = 1, #outcomes do
  redis.call('LPUSH', KEYS[3], string.sub(outcomes, i, i))
end
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[7]) - 1)
local window = redis.call('LRANGE', KEYS[3], 0, -1)
local failed = 0
for _, outcome in ipairs(window) do
  if outcome == '1' then failed = failed + 1 end
end
local rate_holds = #window >= tonumber(ARGV[8]) and failed >= tonumber(ARGV[9]) * #window
if threshold > 0 and tonumber(ARGV[2]) > 0 and failures >= threshold and rate_holds then
  open_until = now + tonumber(ARGV[4])
  redis.call('SET', KEYS[2], open_until)
end
return {failures, open_until}
"""


def _sample(outcome: AttemptOutcome, at_s: float) -> bytes:
    usage = outcome.usage
    return orjson.dumps([
        at_s, outcome.ok, outcome.latency_ms, outcome.ttft_ms,
        usage.prompt_tokens if usage else 0, usage.cached_tokens if usage else 0, usage.completion_tokens if usage else 0,
    ])


def _replayed(backend: str, fields: list[Any]) -> AttemptOutcome:
    _, ok, latency_ms, ttft_ms, prompt, cached, completion = fields
    return AttemptOutcome(
        request_id="", attempt=1, backend=backend, route=None, upstream_model="", streamed=False, ok=ok,
        status=200 if ok else 500, error_kind=None if ok else "server_error", latency_ms=latency_ms, ttft_ms=ttft_ms,
        usage=Usage(prompt_tokens=prompt, cached_tokens=cached, completion_tokens=completion) if ok else None,
        cost_usd=None, started_at=0.0,
    )


class _FailureNews:
    """Failure news of one backend since the last push: whether a success reset the count, failures
    after it, and every outcome in order ('1' failed, '0' ok; the newest `window_attempts` kept)."""

    __slots__ = ("reset", "failures", "outcomes")

    def __init__(self, window_attempts: int) -> None:
        self.reset = False
        self.failures = 0
        self.outcomes: deque[str] = deque(maxlen=window_attempts)


class RedisStateStore:
    """`StateStore` shared through Redis; see the module docstring."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        circuit: CircuitBreakerSpec | None = None,
        replica_id: str | None = None,
        sync_interval_s: float = 0.1,
        stats_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = f"{prefix}state:"
        self.replica_id = replica_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.sync_interval_s = sync_interval_s
        self.stats_interval_s = stats_interval_s
        self._spec = circuit or CircuitBreakerSpec()
        self._clock = clock  # unix seconds: shared timestamps must mean the same on every replica
        self._script = redis.register_script(CIRCUIT_LUA)
        self._local = MemoryStateStore(self._spec)
        self._in_flight: dict[str, int] = {}
        self._news_samples: dict[str, deque[tuple[float, AttemptOutcome]]] = {}
        self._news_failures: dict[str, _FailureNews] = {}
        self._shared_stats: dict[str, BackendState] = {}
        self._shared_open_until_ms: dict[str, float] = {}
        self._other_in_flight: dict[str, int] = {}
        self._dead_fields: dict[str, list[str]] = {}  # in-flight fields of replicas without a heartbeat, deleted next push
        self._snapshot: dict[str, BackendState] = {}
        self._built_from: dict[str, BackendState] = {}  # the local state each snapshot entry was built on
        self._dirty: set[str] = set()
        self._redis_ok = True
        self._stats_read_at = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()  # close() cancels the task only between cycles

    # -- the request path (sync, no I/O) -----------------------------------------------------

    def _shared_block(self, backend: str) -> bool:
        return self._redis_ok and self._shared_open_until_ms.get(backend, 0.0) > self._clock() * 1000

    def admit(self, backend: str, request_id: str) -> bool:
        if self._shared_block(backend):
            return False
        return self._local.admit(backend, request_id)

    def attempt_started(self, backend: str) -> None:
        self._local.attempt_started(backend)
        self._in_flight[backend] = self._in_flight.get(backend, 0) + 1
        self._dirty.add(backend)

    def record(self, outcome: AttemptOutcome) -> None:
        backend = outcome.backend
        self._local.record(outcome)
        self._in_flight[backend] = max(0, self._in_flight.get(backend, 0) - 1)
        self._dirty.add(backend)
        if outcome.error_kind in NOT_BACKEND_FAULTS:
            return
        samples = self._news_samples.get(backend)
        if samples is None:
            samples = self._news_samples[backend] = deque(maxlen=WINDOW_SIZE)
        samples.append((self._clock(), outcome))
        news = self._news_failures.get(backend)
        if news is None:
            news = self._news_failures[backend] = _FailureNews(self._spec.window_attempts)
        if outcome.ok:
            news.reset, news.failures = True, 0
        else:
            news.failures += 1
        news.outcomes.append("0" if outcome.ok else "1")

    def set_external(self, backend: str, state: BackendState) -> None:
        self._local.set_external(backend, state)
        self._dirty.add(backend)

    def configure_circuits(self, spec: CircuitBreakerSpec) -> None:
        self._spec = spec
        self._local.configure_circuits(spec)
        self._dirty.update(self._snapshot)

    def circuit_state(self, backend: str) -> CircuitState:
        if self._shared_block(backend):
            return CircuitState.OPEN
        return self._local.circuit_state(backend)

    def snapshot(self) -> StateSnapshot:
        local = self._local.snapshot()
        dirty = self._dirty
        for backend, state in local.items():
            if self._built_from.get(backend) is not state:
                dirty.add(backend)
        for backend in dirty:
            state = self._built_from[backend] = local.get(backend, UNKNOWN_STATE)
            self._snapshot[backend] = self._build(backend, state)
        dirty.clear()
        return self._snapshot

    def _build(self, backend: str, local: BackendState) -> BackendState:
        if not self._redis_ok:
            return local
        shared = self._shared_stats.get(backend)
        window = {name: getattr(shared, name) for name in WINDOW_FIELDS} if shared is not None else {}
        return replace(
            local, **window, in_flight=local.in_flight + self._other_in_flight.get(backend, 0),
            circuit_open=local.circuit_open or self._shared_block(backend),
        )

    @property
    def shared(self) -> bool:
        """True while Redis answers (the snapshot is the cluster's); False on local state."""
        return self._redis_ok

    # -- background -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sync task on the running loop (app start-up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="state-sync")

    async def close(self) -> None:
        """Stop syncing and withdraw this replica's in-flight counts."""
        if self._task is not None:
            async with self._sync_lock:
                self._task.cancel()
            self._task = None
        try:
            pipe = self.redis.pipeline(transaction=False)
            for backend in self._in_flight:
                pipe.hdel(self._key(backend, "inflight"), self.replica_id)
            pipe.zrem(self.prefix + "replicas", self.replica_id)
            await pipe.execute()
        except (RedisError, OSError):
            pass  # its heartbeat expires anyway

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # never let the sync task die; the next cycle retries
                log.exception("state: sync failed")
            await asyncio.sleep(self.sync_interval_s)

    def _key(self, backend: str, name: str) -> str:
        return f"{self.prefix}{backend}:{name}"

    async def sync(self) -> None:
        """One cycle: push this replica's news, read the cluster's state. Never raises on Redis errors."""
        async with self._sync_lock:
            await self._sync_once()

    async def _sync_once(self) -> None:
        try:
            await self._push()
            await self._pull()
        except (RedisError, OSError) as exc:
            if self._redis_ok:
                log.warning("state: Redis unavailable (%s); routing on this replica's local state until it returns",
                            type(exc).__name__)
                self._redis_ok = False
                self._dirty.update(self._snapshot)
            return
        if not self._redis_ok:
            log.info("state: Redis is back; shared state resynchronised")
            self._redis_ok = True
        self._dirty.update(self._snapshot, self._other_in_flight, self._shared_stats, self._shared_open_until_ms)

    async def _push(self) -> None:
        """Send everything observed since the last push in one pipeline; on failure keep it for the next."""
        now_ms = self._clock() * 1000
        samples, self._news_samples = self._news_samples, {}
        failures, self._news_failures = self._news_failures, {}
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.prefix + "replicas", {self.replica_id: now_ms})
        pipe.zremrangebyscore(self.prefix + "replicas", "-inf", now_ms - FORGET_REPLICA_AFTER_S * 1000)
        for backend, count in self._in_flight.items():  # all of them, every cycle: Redis may have restarted empty
            pipe.hset(self._key(backend, "inflight"), self.replica_id, count)
            pipe.sadd(self.prefix + "backends", backend)
        for backend, outcomes in samples.items():
            pipe.lpush(self._key(backend, "samples"), *(_sample(o, at_s) for at_s, o in outcomes))
            pipe.ltrim(self._key(backend, "samples"), 0, WINDOW_SIZE - 1)
        dead_fields, self._dead_fields = self._dead_fields, {}
        for backend, replicas in dead_fields.items():
            pipe.hdel(self._key(backend, "inflight"), *replicas)
        circuits = [backend for backend, news in failures.items() if news.reset or news.failures]
        spec = self._spec
        for backend in circuits:
            news = failures[backend]
            threshold = spec.consecutive_failures if spec.enabled else 0
            await self._script(keys=[self._key(backend, "failures"), self._key(backend, "open_until_ms"),
                                     self._key(backend, "window")],
                               args=[int(news.reset), news.failures, threshold, int(spec.cooldown_s * 1000), int(now_ms),
                                     "".join(news.outcomes), spec.window_attempts, spec.minimum_attempts,
                                     spec.failure_rate_threshold], client=pipe)
        try:
            results = await pipe.execute()
        except BaseException:
            await pipe.reset()  # execute() skips it when loading the script fails
            self._keep_news(samples, failures)
            raise
        for backend, (_, open_until_ms) in zip(circuits, results[len(results) - len(circuits):], strict=True):
            self._shared_open_until_ms[backend] = float(open_until_ms)
        if samples:
            self._stats_read_at = float("-inf")

    def _keep_news(self, samples: dict[str, deque[tuple[float, AttemptOutcome]]], failures: dict[str, _FailureNews]) -> None:
        """Put back news a failed push took, in front of what arrived meanwhile (bounded)."""
        for backend, older in samples.items():
            newer = self._news_samples.get(backend, ())
            self._news_samples[backend] = deque([*older, *newer], maxlen=WINDOW_SIZE)
        for backend, older in failures.items():
            newer = self._news_failures.get(backend)
            if newer is None:
                self._news_failures[backend] = older
                continue
            newer.outcomes = deque([*older.outcomes, *newer.outcomes], maxlen=newer.outcomes.maxlen)  # newest kept
            if not newer.reset:  # a success since then makes the older count moot
                newer.reset, newer.failures = older.reset, older.failures + newer.failures

    async def _pull(self) -> None:
        now_s = self._clock()
        replicas_key = self.prefix + "replicas"
        live_after_ms = (now_s - max(5 * self.sync_interval_s, 2.0)) * 1000
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrangebyscore(replicas_key, live_after_ms, "+inf")
        pipe.smembers(self.prefix + "backends")
        live, backends = await pipe.execute()
        live = {r.decode() for r in live}
        names = sorted(b.decode() for b in backends)
        read_stats = time.monotonic() - self._stats_read_at >= self.stats_interval_s
        pipe = self.redis.pipeline(transaction=False)
        for backend in names:
            pipe.hgetall(self._key(backend, "inflight"))
            pipe.get(self._key(backend, "open_until_ms"))
            if read_stats:
                pipe.lrange(self._key(backend, "samples"), 0, WINDOW_SIZE - 1)
        results = iter(await pipe.execute())
        for backend in names:
            fields = {replica.decode(): int(count) for replica, count in next(results).items()}
            self._other_in_flight[backend] = sum(
                count for replica, count in fields.items() if replica in live and replica != self.replica_id
            )
            dead = [replica for replica in fields if replica not in live and replica != self.replica_id]
            if dead:
                self._dead_fields[backend] = dead
            self._shared_open_until_ms[backend] = float(next(results) or 0)
            if read_stats:
                self._shared_stats[backend] = self._window_stats(backend, next(results))
        if read_stats:
            self._stats_read_at = time.monotonic()

    def _window_stats(self, backend: str, samples: list[bytes]) -> BackendState:
        """The cluster window's figures, computed by the in-process store from the replayed outcomes.

        The replay runs on a clock set to each sample's time, so the window ages them exactly as
        it ages its own observations."""
        now_s = [0.0]
        window = MemoryStateStore(self._spec, clock=lambda: now_s[0])
        for raw in reversed(samples):  # stored newest first
            fields = orjson.loads(raw)
            now_s[0] = fields[0]
            window.record(_replayed(backend, fields))
        now_s[0] = self._clock()
        return window.snapshot().get(backend, UNKNOWN_STATE)
