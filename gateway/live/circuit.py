"""A per-backend circuit breaker: stop calling a backend that keeps failing, then test it with one request.

closed --(the last `consecutive_failures` attempts failed, AND at least `failure_rate_threshold`
          of the last `window_attempts` failed, with `minimum_attempts` seen)--> open
open --(`cooldown_s` passed)--> half-open: the next attempt is admitted as the one trial
half-open --(the trial succeeds)--> closed, window cleared;  --(the trial fails)--> open for another cool-down
A trial that ends without a verdict (the client went away) frees the slot for another trial.
Outcomes of attempts admitted before the breaker opened are ignored once it is open: only the
trial (known by its request id) decides. The pattern: Nygard, "Release It!" (2007), "Circuit Breaker";
the rate gate: resilience4j's count-based sliding window (failureRateThreshold, minimumNumberOfCalls).

Why both conditions: outcomes arrive in the order attempts FINISH. Under concurrency a backend
that fails fast 5% of the time reports its failures in bursts ahead of its slower successes, so a
run of N failures alone opens healthy circuits; a dead backend fails both tests within
max(`consecutive_failures`, `minimum_attempts`, ceil(`failure_rate_threshold` x `window_attempts`))
attempts (15 with the defaults).
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from policies.schema import CircuitBreakerSpec

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(str, Enum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One backend's breaker. Lives on the event loop (no locks). Times are monotonic seconds."""

    __slots__ = ("spec", "failures", "opened_at", "trial", "window", "window_failures")

    def __init__(self, spec: CircuitBreakerSpec) -> None:
        self.spec = spec
        self.failures = 0  # consecutive failed attempts
        self.opened_at: float | None = None  # when it last opened; None while closed
        self.trial: str | None = None  # request id of the half-open trial in flight
        self.window: deque[bool] = deque(maxlen=spec.window_attempts)  # True: failed; most recent last
        self.window_failures = 0  # failures in `window`

    def _observe(self, failed: bool) -> None:
        window = self.window
        if len(window) == window.maxlen and window[0]:
            self.window_failures -= 1
        window.append(failed)
        self.window_failures += failed

    def failure_rate(self) -> float | None:
        """Share of failed attempts in the window; None until it holds `minimum_attempts`."""
        seen = len(self.window)
        return self.window_failures / seen if seen and seen >= self.spec.minimum_attempts else None

    def _should_open(self) -> bool:
        spec = self.spec
        if not spec.enabled or self.failures < spec.consecutive_failures:
            return False
        rate = self.failure_rate()
        return rate is not None and rate >= spec.failure_rate_threshold

    def _close(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial = None
        self.window.clear()
        self.window_failures = 0

    def state(self, now: float) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        if self.trial is not None or now - self.opened_at >= self.spec.cooldown_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def blocks(self, now: float) -> bool:
        """Routing should skip the backend: open, or half-open with its one trial taken."""
        return self.opened_at is not None and (self.trial is not None or now - self.opened_at < self.spec.cooldown_s)

    def half_opens_at(self) -> float | None:
        """When an open breaker will admit a trial; None when closed or a trial is in flight."""
        if self.opened_at is None or self.trial is not None:
            return None
        return self.opened_at + self.spec.cooldown_s

    def admit(self, request_id: str, now: float) -> bool:
        """May this attempt go now? In half-open, True exactly once: that attempt is the trial."""
        if self.opened_at is None:
            return True
        if self.trial is not None or now - self.opened_at < self.spec.cooldown_s:
            return False
        self.trial = request_id
        return True

    def on_success(self, request_id: str) -> None:
        if self.opened_at is None:
            self.failures = 0
            self._observe(False)
        elif request_id == self.trial:
            self._close()  # a fresh start: the failures that opened it are history

    def on_failure(self, request_id: str, now: float) -> None:
        if self.opened_at is None:
            self.failures += 1
            self._observe(True)
            if self._should_open():
                self.opened_at = now
        elif request_id == self.trial:
            self.failures += 1
            self.trial = None
            self.opened_at = now

    def on_abandoned(self, request_id: str) -> None:
        """The attempt ended saying nothing about the backend (client gone, client's mistake)."""
        if request_id == self.trial:
            self.trial = None

    def configure(self, spec: CircuitBreakerSpec) -> None:
        """New settings (a policy reload); disabling closes an open breaker."""
        self.spec = spec
        if self.window.maxlen != spec.window_attempts:
            self.window = deque(self.window, maxlen=spec.window_attempts)
            self.window_failures = sum(self.window)
        if not spec.enabled:
            self.opened_at = None
            self.trial = None
