"""The routing decisions of the newest requests, kept so the console can explain a ledger record.

Stored, not recomputed: the ledger keeps no request body, and a recomputation would see today's
backend state, not the state the request was routed on. Keeping costs one dict insertion per
request on the hot path (a reference to the `Decision` the engine already built; it is turned
into JSON only when someone asks), and memory is bounded by `capacity` (oldest dropped first).
Each gateway process keeps its own: with several replicas, a request is explained by the one
that routed it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from policies.decision import Decision

__all__ = ["DecisionLog", "KeptDecision", "DEFAULT_DECISIONS_KEPT"]

DEFAULT_DECISIONS_KEPT = 2000


@dataclass(frozen=True, slots=True)
class KeptDecision:
    """A request's routing decision and when it was made (unix seconds)."""

    decision: Decision
    decided_at: float


class DecisionLog:
    """request id -> its decision, for the newest `capacity` requests. Lives on the event loop (no locks)."""

    __slots__ = ("capacity", "_kept")

    def __init__(self, capacity: int = DEFAULT_DECISIONS_KEPT) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[str, tuple[Decision, float]] = OrderedDict()  # a bare tuple: the cheapest to build

    def remember(self, request_id: str, decision: Decision) -> None:
        """On the request path: one dict insertion and one clock read (benchmarks/decision_log_speed.py prints its cost)."""
        kept = self._kept
        kept[request_id] = (decision, time.time())
        if len(kept) > self.capacity:
            kept.popitem(last=False)

    def get(self, request_id: str) -> KeptDecision | None:
        found = self._kept.get(request_id)
        return None if found is None else KeptDecision(*found)

    def __len__(self) -> int:
        return len(self._kept)
