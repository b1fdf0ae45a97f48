"""In-process state store: in-flight counts, sliding latency windows, consecutive failures."""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field, replace

from gateway.outcomes import AttemptOutcome
from policies.state import BackendState, StateSnapshot

__all__ = ["MemoryStateStore", "WINDOW_SIZE"]

WINDOW_SIZE = 200  # attempts kept per backend for percentiles and rates
STATS_REFRESH_S = 0.1  # percentiles are recomputed at most this often (in-flight counts are always fresh)


def _percentile(values: deque[float], fraction: float) -> float | None:
    """Nearest-rank percentile of the window (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(slots=True)
class _BackendWindow:
    in_flight: int = 0
    consecutive_failures: int = 0
    ttft_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW_SIZE))
    tpot_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW_SIZE))
    ok: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW_SIZE))
    output_tokens: deque[int] = field(default_factory=lambda: deque(maxlen=WINDOW_SIZE))
    cache_hit: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW_SIZE))


class MemoryStateStore:
    """The default store: one process, no set-up. The snapshot is rebuilt only after a change."""

    def __init__(self) -> None:
        self._windows: dict[str, _BackendWindow] = {}
        self._snapshot: dict[str, BackendState] = {}
        self._dirty: set[str] = set()
        self._external: dict[str, BackendState] = {}
        self._stats: dict[str, tuple[float, BackendState]] = {}

    def _window(self, backend: str) -> _BackendWindow:
        window = self._windows.get(backend)
        if window is None:
            window = self._windows[backend] = _BackendWindow()
        return window

    def attempt_started(self, backend: str) -> None:
        self._window(backend).in_flight += 1
        self._dirty.add(backend)

    def record(self, outcome: AttemptOutcome) -> None:
        window = self._window(outcome.backend)
        window.in_flight = max(0, window.in_flight - 1)
        self._dirty.add(outcome.backend)
        if outcome.error_kind in ("client_disconnected", "client_error"):
            return  # says nothing about the backend's health
        window.ok.append(outcome.ok)
        window.consecutive_failures = 0 if outcome.ok else window.consecutive_failures + 1
        if not outcome.ok:
            return
        if outcome.ttft_ms is not None:
            window.ttft_ms.append(outcome.ttft_ms)
            tokens = outcome.output_tokens
            if tokens > 1:
                window.tpot_ms.append((outcome.latency_ms - outcome.ttft_ms) / (tokens - 1))
        if outcome.usage is not None:
            window.output_tokens.append(outcome.usage.completion_tokens)
            if outcome.usage.prompt_tokens:
                window.cache_hit.append(outcome.usage.cached_tokens / outcome.usage.prompt_tokens)

    def consecutive_failures(self, backend: str) -> int:
        return self._window(backend).consecutive_failures

    def set_external(self, backend: str, state: BackendState) -> None:
        """Figures observed elsewhere (health probes, /metrics scrapes) merged into the snapshot."""
        self._external[backend] = state
        self._stats.pop(backend, None)
        self._dirty.add(backend)

    def _build(self, backend: str) -> BackendState:
        w = self._window(backend)
        now = time.monotonic()
        cached = self._stats.get(backend)
        if cached is None or now - cached[0] > STATS_REFRESH_S:
            cached = self._stats[backend] = (now, self._statistics(backend, w))
        return replace(cached[1], in_flight=w.in_flight)

    def _statistics(self, backend: str, w: _BackendWindow) -> BackendState:
        return replace(
            self._external.get(backend, BackendState()),
            ttft_p50_ms=_percentile(w.ttft_ms, 0.50),
            ttft_p95_ms=_percentile(w.ttft_ms, 0.95),
            tpot_p50_ms=_percentile(w.tpot_ms, 0.50),
            tpot_p95_ms=_percentile(w.tpot_ms, 0.95),
            error_rate=(w.ok.count(False) / len(w.ok)) if w.ok else None,
            avg_output_tokens=statistics.fmean(w.output_tokens) if w.output_tokens else None,
            cache_hit_ratio=statistics.fmean(w.cache_hit) if w.cache_hit else None,
        )

    def snapshot(self) -> StateSnapshot:
        for backend in self._dirty:
            self._snapshot[backend] = self._build(backend)
        self._dirty.clear()
        return self._snapshot
