"""`prefer: latency`: lowest observed p95 time-to-first-token first, then TPOT for long outputs."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from policies.candidate import Candidate, RankContext
from policies.state import BackendState

__all__ = ["LatencyStrategy", "LONG_OUTPUT_TOKENS"]

LONG_OUTPUT_TOKENS = 1024
"""From this many expected output tokens on, decode time dominates and TPOT joins the ranking."""


class LatencyStrategy:
    """Ranks by observed p95 TTFT, lowest first; for long outputs by p95 TTFT + tokens x p95 TPOT.

    A backend with no observation yet is treated neutrally: its missing figure is taken to be
    the median of the other candidates' figures, so it neither jumps the queue nor is starved
    (it keeps its `use` position among equals). With no observations at all, the `use` order
    stands. Ties keep the `use` order.
    """

    name = "latency"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        ttft = _imputed(candidates, lambda state: state.ttft_p95_ms)
        if context.expected_output_tokens < LONG_OUTPUT_TOKENS:
            return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: ttft[i])]
        tpot = _imputed(candidates, lambda state: state.tpot_p95_ms)
        tokens = context.expected_output_tokens
        finish_ms = [ttft[i] + tokens * tpot[i] for i in range(len(candidates))]
        return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: finish_ms[i])]


def _imputed(candidates: list[Candidate], figure: Callable[[BackendState], float | None]) -> list[float]:
    values = [figure(candidate.state) for candidate in candidates]
    known = [value for value in values if value is not None]
    neutral = statistics.median(known) if known else 0.0
    return [neutral if value is None else value for value in values]
