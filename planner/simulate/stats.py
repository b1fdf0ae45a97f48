"""Latency percentiles of a simulation's requests."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

__all__ = ["Percentiles", "percentiles_ms"]


class Percentiles(BaseModel):
    """p50, p95 and p99 in milliseconds; None without any value."""

    model_config = ConfigDict(frozen=True)

    p50: float | None
    p95: float | None
    p99: float | None


def _rank(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def percentiles_ms(values_s: Sequence[float]) -> Percentiles:
    """p50/p95/p99 of `values_s` (seconds), in milliseconds rounded to 0.1 ms."""
    if not values_s:
        return Percentiles(p50=None, p95=None, p99=None)
    ordered = sorted(values_s)
    return Percentiles(**{f"p{p}": round(_rank(ordered, p / 100) * 1000, 1) for p in (50, 95, 99)})
