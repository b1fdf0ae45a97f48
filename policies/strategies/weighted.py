"""`prefer: weighted`: a random order drawn by `weights`, for canaries and A/B splits."""

from __future__ import annotations

from policies.candidate import Candidate, RankContext

__all__ = ["WeightedStrategy"]


class WeightedStrategy:
    """Ranks by sampling without replacement, each draw proportional to the backend's weight.

    The first backend is therefore chosen with probability w / sum(w); the rest of the chain is
    drawn the same way from what remains, so fallbacks also follow the split. Backends with
    weight 0 (or none) come last, in `use` order. Randomness comes only from `context.rng`.
    """

    name = "weighted"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        weights = context.weights or {}
        pool = [(candidate, weights.get(candidate.name, 0.0)) for candidate in candidates]
        weighted = [(candidate, weight) for candidate, weight in pool if weight > 0]
        ranked: list[Candidate] = []
        while weighted:
            target = context.rng.random() * sum(weight for _, weight in weighted)
            index = len(weighted) - 1
            running = 0.0
            for position, (_, weight) in enumerate(weighted):
                running += weight
                if target < running:
                    index = position
                    break
            ranked.append(weighted.pop(index)[0])
        return ranked + [candidate for candidate, weight in pool if weight <= 0]
