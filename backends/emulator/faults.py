"""Faults on demand: which request fails, and how."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FAULT_MODES", "FaultPlan"]

# 500: HTTP 500 · 429: HTTP 429 with Retry-After · timeout: never answers · reset: headers, then the
# connection drops · midstream: some tokens, then the connection drops · slow: every token delayed
# · malformed: a body / SSE event that is not JSON · error-body: HTTP 200 carrying an error object
# · 401: HTTP 401 whose message echoes the bearer token it got, as careless providers do.
FAULT_MODES: tuple[str, ...] = ("500", "429", "timeout", "reset", "midstream", "slow", "malformed", "error-body", "401")


@dataclass(slots=True)
class FaultPlan:
    """`rate` of requests fail with `mode`; the choice is drawn from a seeded generator."""

    rate: float = 0.0
    mode: str = "500"
    slow_ms: float = 200.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"fail mode {self.mode!r} is unknown; valid modes: {', '.join(FAULT_MODES)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fail rate must be between 0 and 1, got {self.rate}")
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        if self.rate <= 0.0:
            return None
        if self.rate >= 1.0 or self._rng.random() < self.rate:
            return self.mode
        return None
