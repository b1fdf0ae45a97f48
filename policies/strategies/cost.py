"""`prefer: cost`: cheapest expected cost of this request first."""

from __future__ import annotations

from policies.candidate import Candidate, RankContext

__all__ = ["CostStrategy"]


class CostStrategy:
    """Ranks by expected USD cost of this request (see `policies.pricing`), cheapest first.

    Self-hosted backends cost their marginal price (0 unless `cost.marginal_usd_per_mtok`), so
    they fill first; a backend with no known price goes last. Ties keep the `use` order.
    """

    name = "cost"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        return sorted(candidates, key=_cost_key)


def _cost_key(candidate: Candidate) -> tuple[bool, float]:
    cost = candidate.expected_cost_usd
    return (cost is None, cost or 0.0)
