"""`prefer: order`: the route's `use` list as written."""

from __future__ import annotations

from policies.candidate import Candidate, RankContext

__all__ = ["OrderStrategy"]


class OrderStrategy:
    """Ranks by position in the route's `use` list."""

    name = "order"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        return list(candidates)
