"""Per-key budgets (daily, monthly, total USD) and rate limits (RPM, TPM): in-process or shared in Redis."""

from gateway.limits.errors import BudgetExceededError, RateLimitedError
from gateway.limits.key_limits import NO_LIMITS, KeyLimits
from gateway.limits.memory import MemoryLimitStore
from gateway.limits.redis_limits import RedisLimitStore
from gateway.limits.settlements import RequestSettlements, expected_spend
from gateway.limits.store import LimitStore, Reservation

__all__ = ["BudgetExceededError", "KeyLimits", "LimitStore", "MemoryLimitStore", "NO_LIMITS", "RateLimitedError",
           "RedisLimitStore", "RequestSettlements", "Reservation", "expected_spend"]
