"""The request side of limits: what to reserve for a routed request, and settling it from its attempts."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.limits.store import LimitStore, Reservation
from gateway.outcomes import AttemptOutcome
from policies.decision import Decision
from policies.features import RequestFeatures

__all__ = ["DEFAULT_OUTPUT_TOKENS", "RequestSettlements", "expected_spend"]

DEFAULT_OUTPUT_TOKENS = 1024  # reserved for TPM when the request sets no max_tokens


def expected_spend(decision: Decision, features: RequestFeatures, max_attempts: int) -> tuple[float, int]:
    """(USD, tokens) to reserve: the dearest expected cost among the backends the request may end on
    (any of the first `max_attempts` of its chain), and its estimated prompt plus max_tokens."""
    chain = set(decision.chain[:max_attempts])
    costs = [c.expected_cost_usd for c in decision.candidates
             if c.kept and c.backend in chain and c.expected_cost_usd is not None]
    return max(costs, default=0.0), features.input_tokens + (features.max_tokens or DEFAULT_OUTPUT_TOKENS)


@dataclass(slots=True)
class _OpenRequest:
    reservation: Reservation
    spent_usd: float = 0.0
    tokens: int = 0


class RequestSettlements:
    """Adds up the attempts of each admitted request (an OutcomeHub listener) and settles its
    reservation when the request ends; every call is a dict operation."""

    def __init__(self, store: LimitStore) -> None:
        self.store = store
        self._open: dict[str, _OpenRequest] = {}

    def open(self, request_id: str, reservation: Reservation | None) -> None:
        if reservation is not None:
            self._open[request_id] = _OpenRequest(reservation)

    def on_outcome(self, outcome: AttemptOutcome) -> None:
        entry = self._open.get(outcome.request_id)
        if entry is None:
            return
        entry.spent_usd += outcome.cost_usd or 0.0
        if outcome.usage is not None:
            entry.tokens += outcome.usage.prompt_tokens + outcome.usage.completion_tokens

    def close(self, request_id: str) -> None:
        """The request is over (answered, failed or abandoned): settle what its attempts cost."""
        entry = self._open.pop(request_id, None)
        if entry is not None:
            self.store.settle(entry.reservation, actual_usd=entry.spent_usd, actual_tokens=entry.tokens)
