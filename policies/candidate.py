"""What a strategy ranks: one backend of the matched route that survived the filters."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.compiled import CompiledBackend
    from policies.features import RequestFeatures
    from policies.state import BackendState

__all__ = ["Candidate", "RankContext"]


@dataclass(slots=True)
class Candidate:
    """A backend with its state snapshot and the expected cost of this request on it.

    A strategy that ranks on latency sets `latency_ms`, `sampled_latency_ms` and `exploration`
    (`policies.strategies.latency`): the expected and the sampled time of this request on it, and
    whether it was put first to explore; other strategies may set `rank_note`.
    """

    backend: CompiledBackend
    state: BackendState
    expected_cost_usd: float | None
    latency_ms: float | None = None
    sampled_latency_ms: float | None = None
    exploration: bool = False
    rank_note: str | None = None  # the figure a strategy ranked it by, for `explain` (set by the strategy)

    @property
    def name(self) -> str:
        return self.backend.name


@dataclass(frozen=True, slots=True)
class RankContext:
    """Everything a strategy may look at besides the candidates themselves."""

    features: RequestFeatures
    expected_output_tokens: int
    weights: Mapping[str, float] | None
    rng: random.Random
