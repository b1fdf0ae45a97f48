"""The limit store interface: reserve before a request is dispatched, settle when it ends.

A request reserves its expected cost (and tokens) up front; a reservation is refused when the
key's spent + reserved + expected would pass a budget, so concurrent requests cannot all slip
through on the same remaining dollars. At the end the real cost replaces the reservation.
Overspend is therefore bounded by what the requests in flight spend beyond their reservations:
sum over in-flight requests of max(0, actual - reserved), and 0 when the reservation is the
worst case (prompt + max_tokens at the dearest candidate's price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.limits.key_limits import KeyLimits
from gateway.limits.windows import BudgetPeriod

__all__ = ["LimitStore", "Reservation"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one admitted request holds until it is settled."""

    key_name: str
    periods: tuple[BudgetPeriod, ...]
    reserved_nano_usd: int
    minute: int  # the rate window its tokens were counted in
    reserved_tokens: int
    counts_tokens: bool  # the key has a TPM limit
    local: bool  # made by the in-process store (with Redis: while Redis was away)


class LimitStore(Protocol):
    """Budgets and rate limits per key, shared by every replica when backed by Redis."""

    async def reserve(self, limits: KeyLimits, *, expected_usd: float, expected_tokens: int) -> Reservation | None:
        """Admit one request (None for a key without limits); raises BudgetExceededError / RateLimitedError."""
        ...

    def settle(self, reservation: Reservation | None, *, actual_usd: float, actual_tokens: int) -> None:
        """Replace the reservation by what the request really cost; O(1), never blocks."""
        ...

    def remaining_usd(self, key_name: str) -> float | None:
        """The key's smallest remaining budget as last seen (for `when.budget_remaining_usd`); None if unknown."""
        ...

    async def close(self) -> None:
        """Write pending settlements (shutdown)."""
        ...
