"""What one client key may spend and send: budgets in USD, rates per minute."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KeyLimits", "NO_LIMITS"]


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """Caps of one key; None means no cap."""

    key_name: str
    daily_usd: float | None = None
    monthly_usd: float | None = None
    total_usd: float | None = None
    rpm: int | None = None
    tpm: int | None = None

    @property
    def has_budget(self) -> bool:
        return self.daily_usd is not None or self.monthly_usd is not None or self.total_usd is not None

    @property
    def unlimited(self) -> bool:
        return not self.has_budget and self.rpm is None and self.tpm is None


NO_LIMITS = KeyLimits(key_name="")
