"""Time windows of limits: budget periods (UTC day, month, all time) and sliding one-minute rate windows.

The rate window is the two-counter sliding window (Cloudflare, "How we built rate limiting
capable of scaling to millions of domains", 2017): count = previous x (W - t) / W + current, where
t is the time into the current fixed window of W = 60 s. It needs two counters per key, never
lets more than the limit through in any window aligned to the minute, and only slightly
over-counts when traffic was uneven in the previous minute. The Redis store runs the same
arithmetic in Lua (`gateway/limits/redis_limits.py`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["WINDOW_MS", "BudgetPeriod", "budget_periods", "retry_after_ms", "retry_after_s", "sliding_count"]

WINDOW_MS = 60_000
SECONDS_PER_DAY = 86_400  # unix time has no leap seconds: every UTC day is exactly this long
DAY_TTL_S = 3 * 86_400
MONTH_TTL_S = 35 * 86_400


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    """One budget's current period: its id (e.g. `day:20261129`), cap and how long to keep its counter."""

    period_id: str
    limit_nano_usd: int
    ttl_s: int  # 0: kept for ever


@functools.lru_cache(maxsize=4)
def _period_ids(day_number: int) -> tuple[str, str]:
    """The day and month period ids of UTC day `day_number` (days since 1970-01-01); cached, as every
    request of a day asks for the same ones."""
    day = datetime.fromtimestamp(day_number * SECONDS_PER_DAY, UTC)
    return f"day:{day:%Y%m%d}", f"month:{day:%Y%m}"


def budget_periods(daily_usd: float | None, monthly_usd: float | None, total_usd: float | None,
                   now_s: float) -> tuple[BudgetPeriod, ...]:
    """The periods a spend at `now_s` counts against (UTC calendar days and months)."""
    day_id, month_id = _period_ids(int(now_s // SECONDS_PER_DAY))
    periods = []
    for cap, period_id, ttl_s in ((daily_usd, day_id, DAY_TTL_S), (monthly_usd, month_id, MONTH_TTL_S),
                                  (total_usd, "total", 0)):
        if cap is not None:
            periods.append(BudgetPeriod(period_id, round(cap * 1_000_000_000), ttl_s))
    return tuple(periods)


def sliding_count(previous: float, current: float, elapsed_ms: float) -> float:
    """The window's weighted count `elapsed_ms` into the current minute."""
    return previous * (WINDOW_MS - elapsed_ms) / WINDOW_MS + current


def retry_after_ms(previous: float, current: float, cost: float, limit: float, elapsed_ms: float) -> float:
    """How long until `cost` more fits under `limit`, assuming no other traffic meanwhile.

    If it does not fit even with the previous minute forgotten (current + cost > limit), wait for
    the next window, where the current count becomes the previous one and decays:
    current x (W - t') / W + cost <= limit  =>  t' >= W x (1 - (limit - cost) / current).
    Otherwise wait for the previous minute's share to decay:
    previous x (W - t) / W <= limit - cost - current  =>  t >= W x (1 - (limit - cost - current) / previous).
    """
    cost = min(cost, limit)
    if current + cost > limit:
        next_window = max(0.0, WINDOW_MS * (1 - (limit - cost) / current)) if current else 0.0
        return WINDOW_MS - elapsed_ms + next_window
    if previous <= 0:
        return 0.0
    return max(0.0, WINDOW_MS * (1 - (limit - cost - current) / previous) - elapsed_ms)


def retry_after_s(milliseconds: float) -> int:
    """Retry-After is whole seconds, at least 1."""
    return max(1, math.ceil(milliseconds / 1000))
