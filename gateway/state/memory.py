"""In-process state store: in-flight counts, sliding windows, circuit breakers, probed/scraped figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from gateway.live.circuit import CircuitBreaker, CircuitState
from gateway.live.latency_stats import decayed_stats, first_token_part_ms
from gateway.live.sliding_window import SlidingWindow
from gateway.outcomes import AttemptOutcome
from policies.schema import CircuitBreakerSpec
from policies.state import BackendState, StateSnapshot

__all__ = ["MemoryStateStore", "WINDOW_SIZE", "WINDOW_AGE_S"]

WINDOW_SIZE = 200  # attempts kept per backend for percentiles and rates...
WINDOW_AGE_S = 60.0  # ...as long as they are this recent
STATS_REFRESH_S = 0.1  # percentiles are recomputed at most this often (in-flight and circuit are always fresh)
WINDOW_REFRESH_S = 1.0  # every backend is rebuilt at least this often, so old observations age out
_NO_VERDICT = frozenset({"client_disconnected", "client_error"})  # says nothing about the backend


@dataclass(slots=True)
class _BackendWindow:
    breaker: CircuitBreaker
    in_flight: int = 0
    ttft_ms: SlidingWindow = field(default_factory=lambda: SlidingWindow(WINDOW_SIZE, WINDOW_AGE_S))
    tpot_ms: SlidingWindow = field(default_factory=lambda: SlidingWindow(WINDOW_SIZE, WINDOW_AGE_S))
    failed: SlidingWindow = field(default_factory=lambda: SlidingWindow(WINDOW_SIZE, WINDOW_AGE_S))  # 1.0 failed, 0.0 ok
    output_tokens: SlidingWindow = field(default_factory=lambda: SlidingWindow(WINDOW_SIZE, WINDOW_AGE_S))
    cache_hit: SlidingWindow = field(default_factory=lambda: SlidingWindow(WINDOW_SIZE, WINDOW_AGE_S))


class MemoryStateStore:
    """The default store: one process, no set-up. The snapshot is rebuilt only after a change."""

    def __init__(self, circuit: CircuitBreakerSpec | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._circuit = circuit or CircuitBreakerSpec()
        self._clock = clock
        self._windows: dict[str, _BackendWindow] = {}
        self._snapshot: dict[str, BackendState] = {}
        self._dirty: set[str] = set()
        self._external: dict[str, BackendState] = {}
        self._in_flight_at_external: dict[str, int] = {}
        self._stats: dict[str, tuple[float, BackendState]] = {}
        self._refresh_at = 0.0  # monotonic time of the next full rebuild

    def _window(self, backend: str) -> _BackendWindow:
        window = self._windows.get(backend)
        if window is None:
            window = self._windows[backend] = _BackendWindow(CircuitBreaker(self._circuit))
        return window

    # --- what dispatch reports -----------------------------------------------------------------

    def admit(self, backend: str, request_id: str) -> bool:
        """May attempt `request_id` go to `backend` now? False while its circuit is open or its
        half-open trial is taken; True in half-open makes this attempt the trial."""
        breaker = self._window(backend).breaker
        if breaker.opened_at is None:
            return True
        admitted = breaker.admit(request_id, self._clock())
        if admitted:
            self._dirty.add(backend)
        return admitted

    def attempt_started(self, backend: str) -> None:
        self._window(backend).in_flight += 1
        self._dirty.add(backend)

    def record(self, outcome: AttemptOutcome) -> None:
        window = self._window(outcome.backend)
        window.in_flight = max(0, window.in_flight - 1)
        self._dirty.add(outcome.backend)
        breaker = window.breaker
        if outcome.error_kind in _NO_VERDICT:
            breaker.on_abandoned(outcome.request_id)
            return
        now = self._clock()
        window.failed.add(0.0 if outcome.ok else 1.0, now)
        if not outcome.ok:
            breaker.on_failure(outcome.request_id, now)
            half_opens_at = breaker.half_opens_at()
            if half_opens_at is not None:
                self._refresh_at = min(self._refresh_at, half_opens_at)
            return
        breaker.on_success(outcome.request_id)
        tokens = outcome.output_tokens
        if outcome.ttft_ms is not None:
            window.ttft_ms.add(outcome.ttft_ms, now)
            if tokens > 1:
                window.tpot_ms.add((outcome.latency_ms - outcome.ttft_ms) / (tokens - 1), now)
        else:  # non-streamed: its first-token part, split off with the TPOT streams observed
            tpot_ms = window.tpot_ms.percentile(0.50, now)
            window.ttft_ms.add(first_token_part_ms(outcome.latency_ms, tokens, tpot_ms), now)
        if outcome.usage is not None:
            window.output_tokens.add(outcome.usage.completion_tokens, now)
            if outcome.usage.prompt_tokens:
                window.cache_hit.add(outcome.usage.cached_tokens / outcome.usage.prompt_tokens, now)

    # --- what the live jobs and the runtime set --------------------------------------------------

    def set_external(self, backend: str, state: BackendState) -> None:
        """Figures observed elsewhere (health probes, /metrics scrapes) merged into the snapshot.

        Until the next call, `waiting` in the snapshot is the observed queue plus the requests this
        gateway opened to the backend since (see `_queue_estimate`).
        """
        self._external[backend] = state
        self._in_flight_at_external[backend] = self._window(backend).in_flight
        self._stats.pop(backend, None)
        self._dirty.add(backend)

    def configure_circuits(self, spec: CircuitBreakerSpec) -> None:
        """Circuit-breaker settings of the policy in force (again after each reload)."""
        self._circuit = spec
        for backend, window in self._windows.items():
            window.breaker.configure(spec)
            self._dirty.add(backend)

    # --- what readers see --------------------------------------------------------------------------

    def consecutive_failures(self, backend: str) -> int:
        return self._window(backend).breaker.failures

    def circuit_state(self, backend: str) -> CircuitState:
        return self._window(backend).breaker.state(self._clock())

    def _build(self, backend: str, now: float) -> BackendState:
        w = self._window(backend)
        cached = self._stats.get(backend)
        if cached is None or now - cached[0] > STATS_REFRESH_S:
            cached = self._stats[backend] = (now, self._statistics(backend, w, now))
        return replace(
            cached[1], in_flight=w.in_flight, waiting=self._queue_estimate(backend, cached[1].waiting, w.in_flight),
            circuit_open=w.breaker.blocks(now),
        )

    def _queue_estimate(self, backend: str, observed: int | None, in_flight: int) -> int | None:
        """The scraped queue plus requests opened since the scrape, so a burst that arrives between
        two scrapes (2 s apart) spills once the queue would be full instead of all going local.
        Over-counts by the engine's free slots at scrape time: it spills a little early, never late."""
        if observed is None:
            return None
        return observed + max(0, in_flight - self._in_flight_at_external.get(backend, in_flight))

    def _statistics(self, backend: str, w: _BackendWindow, now: float) -> BackendState:
        return replace(
            self._external.get(backend, BackendState()),
            ttft_p50_ms=w.ttft_ms.percentile(0.50, now),
            ttft_p95_ms=w.ttft_ms.percentile(0.95, now),
            tpot_p50_ms=w.tpot_ms.percentile(0.50, now),
            tpot_p95_ms=w.tpot_ms.percentile(0.95, now),
            error_rate=w.failed.mean(now),
            avg_output_tokens=w.output_tokens.mean(now),
            cache_hit_ratio=w.cache_hit.mean(now),
            ttft_stats=decayed_stats(w.ttft_ms.items(now), now),
            tpot_stats=decayed_stats(w.tpot_ms.items(now), now),
        )

    def _next_refresh(self, now: float) -> float:
        wakeups = [at for w in self._windows.values() if (at := w.breaker.half_opens_at()) is not None and at > now]
        return min([now + WINDOW_REFRESH_S, *wakeups])

    def snapshot(self) -> StateSnapshot:
        now = self._clock()
        if now >= self._refresh_at:  # age out old observations; open circuits turning half-open
            self._dirty.update(self._windows)
            self._stats.clear()
            self._refresh_at = self._next_refresh(now)
        for backend in self._dirty:
            self._snapshot[backend] = self._build(backend, now)
        self._dirty.clear()
        return self._snapshot
