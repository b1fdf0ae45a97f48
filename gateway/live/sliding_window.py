"""A window of recent observations, bounded both in count and in age, with percentiles and means."""

from __future__ import annotations

from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """The last `max_samples` values seen within the last `max_age_s` seconds.

    Bounded by age as well as count so a backend that stops getting traffic (e.g. dropped for
    its SLO) forgets its old figures and is tried again, instead of being judged forever on a
    bad minute. Times are `time.monotonic()` seconds passed in by the caller.
    """

    __slots__ = ("max_samples", "max_age_s", "_times", "_values")

    def __init__(self, max_samples: int = 200, max_age_s: float = 60.0) -> None:
        self.max_samples = max_samples
        self.max_age_s = max_age_s
        # two deques kept in step, so reading the values is one C-level copy (the snapshot reads them often)
        self._times: deque[float] = deque(maxlen=max_samples)
        self._values: deque[float] = deque(maxlen=max_samples)

    def add(self, value: float, now: float) -> None:
        self._times.append(now)
        self._values.append(value)

    def _forget(self, now: float) -> deque[float]:
        horizon = now - self.max_age_s
        times, values = self._times, self._values
        while times and times[0] < horizon:
            times.popleft()
            values.popleft()
        return values

    def values(self, now: float) -> list[float]:
        """The values still in the window (older ones are dropped)."""
        return list(self._forget(now))

    def items(self, now: float) -> list[tuple[float, float]]:
        """(time, value) of each value still in the window, oldest first."""
        values = self._forget(now)
        return list(zip(self._times, values, strict=True))

    def percentile(self, fraction: float, now: float) -> float | None:
        """The value at 0-based rank floor(fraction * n) of the sorted window (`fraction` in [0, 1]):
        the smallest value with at least `fraction` of the window below it. None when empty."""
        ordered = sorted(self._forget(now))
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def mean(self, now: float) -> float | None:
        values = self._forget(now)
        return sum(values) / len(values) if values else None

    def __len__(self) -> int:
        return len(self._values)
