"""In-process budgets and rate limits: the default, and the Redis store's fallback while Redis is away."""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.costing import NANO_USD_PER_USD, to_nano_usd
from gateway.limits.errors import BudgetExceededError, RateLimitedError
from gateway.limits.key_limits import KeyLimits
from gateway.limits.store import Reservation
from gateway.limits.windows import WINDOW_MS, budget_periods, retry_after_ms, retry_after_s, sliding_count

__all__ = ["MemoryLimitStore", "budget_refusal", "rate_refusal"]


def rate_refusal(limits: KeyLimits, kind: str, wait_ms: float) -> RateLimitedError:
    limit = limits.rpm if kind == "rpm" else limits.tpm
    unit = "requests" if kind == "rpm" else "tokens"
    return RateLimitedError(f"key {limits.key_name!r} is over its limit of {limit} {unit} per minute",
                            retry_after_s=retry_after_s(wait_ms))


def budget_refusal(limits: KeyLimits, period_id: str) -> BudgetExceededError:
    period = period_id.split(":", 1)[0]
    cap = {"day": limits.daily_usd, "month": limits.monthly_usd, "total": limits.total_usd}[period]
    label = {"day": "daily", "month": "monthly", "total": "total"}[period]
    return BudgetExceededError(f"key {limits.key_name!r} has spent its {label} budget of {cap:g} USD")


class MemoryLimitStore:
    """Counters in dicts; every operation is a few dict updates."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._budgets: dict[tuple[str, str], list[int]] = {}  # (key, period id) -> [spent, reserved] nano-USD
        self._rates: dict[tuple[str, str], dict[int, int]] = {}  # (key, "rpm"|"tpm") -> minute -> count
        self._remaining_nano: dict[str, int] = {}

    async def reserve(self, limits: KeyLimits, *, expected_usd: float, expected_tokens: int) -> Reservation | None:
        return self.reserve_now(limits, expected_usd=expected_usd, expected_tokens=expected_tokens)

    def reserve_now(self, limits: KeyLimits, *, expected_usd: float, expected_tokens: int) -> Reservation | None:
        if limits.unlimited:
            return None
        now_s = self._clock()
        minute, elapsed_ms = divmod(now_s * 1000, WINDOW_MS)
        minute = int(minute)
        checks = [(kind, limit, cost) for kind, limit, cost in (("rpm", limits.rpm, 1), ("tpm", limits.tpm, expected_tokens))
                  if limit is not None]
        for kind, limit, cost in checks:
            counts = self._rates.get((limits.key_name, kind), {})
            previous, current = counts.get(minute - 1, 0), counts.get(minute, 0)
            if sliding_count(previous, current, elapsed_ms) + min(cost, limit) > limit:
                raise rate_refusal(limits, kind, retry_after_ms(previous, current, cost, limit, elapsed_ms))
        periods = budget_periods(limits.daily_usd, limits.monthly_usd, limits.total_usd, now_s)
        expected_nano = to_nano_usd(expected_usd) or 0
        remaining = None
        for period in periods:
            spent, reserved = self._budgets.get((limits.key_name, period.period_id), (0, 0))
            if spent >= period.limit_nano_usd or spent + reserved + expected_nano > period.limit_nano_usd:
                raise budget_refusal(limits, period.period_id)
            left = period.limit_nano_usd - spent - reserved - expected_nano
            remaining = left if remaining is None else min(remaining, left)
        for kind, _, cost in checks:
            counts = self._rates.setdefault((limits.key_name, kind), {})
            counts[minute] = counts.get(minute, 0) + cost
            for old in [m for m in counts if m < minute - 1]:
                del counts[old]
        for period in periods:
            self._budgets.setdefault((limits.key_name, period.period_id), [0, 0])[1] += expected_nano
        if remaining is not None:
            self._remaining_nano[limits.key_name] = remaining
        return Reservation(limits.key_name, periods, expected_nano, minute, expected_tokens, limits.tpm is not None, local=True)

    def settle(self, reservation: Reservation | None, *, actual_usd: float, actual_tokens: int) -> None:
        if reservation is None:
            return
        actual_nano = to_nano_usd(actual_usd) or 0
        remaining = None
        for period in reservation.periods:
            counters = self._budgets.setdefault((reservation.key_name, period.period_id), [0, 0])
            counters[0] += actual_nano
            counters[1] -= reservation.reserved_nano_usd
            left = period.limit_nano_usd - counters[0] - counters[1]
            remaining = left if remaining is None else min(remaining, left)
        if remaining is not None:
            self._remaining_nano[reservation.key_name] = remaining
        if reservation.counts_tokens:
            counts = self._rates.setdefault((reservation.key_name, "tpm"), {})
            if reservation.minute in counts:
                counts[reservation.minute] += actual_tokens - reservation.reserved_tokens

    def remaining_usd(self, key_name: str) -> float | None:
        nano = self._remaining_nano.get(key_name)
        return None if nano is None else nano / NANO_USD_PER_USD

    def spent_usd(self, key_name: str, period_id: str) -> float:
        """What the key has spent in one period (tests, /admin)."""
        return self._budgets.get((key_name, period_id), (0, 0))[0] / NANO_USD_PER_USD

    async def close(self) -> None:
        return None
