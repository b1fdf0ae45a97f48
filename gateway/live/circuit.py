"""A per-backend circuit breaker: stop calling a backend that keeps failing, then test it with one request.

closed --(`consecutive_failures` failed attempts in a row)--> open
open --(`cooldown_s` passed)--> half-open: the next attempt is admitted as the one trial
half-open --(the trial succeeds)--> closed;  --(the trial fails)--> open for another cool-down
A trial that ends without a verdict (the client went away) frees the slot for another trial.
Outcomes of attempts admitted before the breaker opened are ignored once it is open: only the
trial (known by its request id) decides. The pattern: Nygard, "Release It!" (2007), "Circuit Breaker".
"""

from __future__ import annotations

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

    __slots__ = ("spec", "failures", "opened_at", "trial")

    def __init__(self, spec: CircuitBreakerSpec) -> None:
        self.spec = spec
        self.failures = 0  # consecutive failed attempts
        self.opened_at: float | None = None  # when it last opened; None while closed
        self.trial: str | None = None  # request id of the half-open trial in flight

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
        if self.opened_at is None or request_id == self.trial:
            self.failures = 0
            self.opened_at = None
            self.trial = None

    def on_failure(self, request_id: str, now: float) -> None:
        if self.opened_at is None:
            self.failures += 1
            if self.spec.enabled and self.failures >= self.spec.consecutive_failures:
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
        if not spec.enabled:
            self.opened_at = None
            self.trial = None
