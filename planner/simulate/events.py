"""A discrete-event clock: callbacks run in time order (ties in the order they were scheduled)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

__all__ = ["EventLoop", "Schedule"]

Schedule = Callable[[float, Callable[[Any], None], Any], None]
"""`schedule(at_s, callback, arg)`: run `callback(arg)` at simulated time `at_s`."""


class EventLoop:
    """A heap of (time, sequence, callback, argument); `now` is the time of the event being run."""

    __slots__ = ("now", "_heap", "_seq")

    def __init__(self, start_s: float = 0.0) -> None:
        self.now = start_s
        self._heap: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._seq = 0

    def schedule(self, at_s: float, callback: Callable[[Any], None], arg: Any = None) -> None:
        """Run `callback(arg)` at `at_s` (never before `now`)."""
        self._seq += 1
        heapq.heappush(self._heap, (at_s if at_s > self.now else self.now, self._seq, callback, arg))

    def run(self) -> float:
        """Run every event, including those scheduled meanwhile; returns the last event's time."""
        heap, pop = self._heap, heapq.heappop
        while heap:
            at_s, _, callback, arg = pop(heap)
            self.now = at_s
            callback(arg)
        return self.now

    def __len__(self) -> int:
        return len(self._heap)
