"""Latency percentiles of one measured run."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

__all__ = ["LatencySummary", "percentile", "summarize_ms"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (NumPy's default
    "linear" method, Hyndman & Fan type 7). `sorted_values` must be sorted and non-empty."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class LatencySummary(BaseModel):
    """p50/p90/p99 and mean of a set of latencies, in milliseconds."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float


def summarize_ms(samples_s: Sequence[float]) -> LatencySummary | None:
    """Summary of latencies given in seconds; None when there are none."""
    if not samples_s:
        return None
    ordered = sorted(samples_s)
    to_ms = 1000.0
    return LatencySummary(
        count=len(ordered),
        p50_ms=percentile(ordered, 50) * to_ms,
        p90_ms=percentile(ordered, 90) * to_ms,
        p99_ms=percentile(ordered, 99) * to_ms,
        mean_ms=sum(ordered) / len(ordered) * to_ms,
    )
