"""Refusals for keys over their budget or rate, as OpenAI-shaped 429s."""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["BudgetExceededError", "RateLimitedError"]


class BudgetExceededError(GatewayError):
    """The key's daily, monthly or total budget is spent (429, code budget_exceeded)."""

    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"


class RateLimitedError(GatewayError):
    """The key is over its requests- or tokens-per-minute limit (429 with Retry-After)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, headers={"retry-after": str(retry_after_s)})
        self.retry_after_s = retry_after_s
