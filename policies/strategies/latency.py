"""`prefer: latency`: Thompson sampling over each backend's latency posterior, fastest draw first."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from policies.candidate import Candidate, RankContext
from policies.latency_posterior import PRIOR, LatencyPrior, LogLatencyStats, posterior_mean_log_ms, sample_log_ms
from policies.state import BackendState

__all__ = ["LatencyStrategy", "LONG_OUTPUT_TOKENS", "FIGURE_WEIGHT", "LatencyFigure", "latency_figures"]

LONG_OUTPUT_TOKENS = 1024
"""From this many expected output tokens on, a stream's decode time joins its ranking too."""
FIGURE_WEIGHT = 3.0
"""A backend known only by a percentile (`gateway explain --state {ttft_p95_ms: ...}`) counts as this
many responses at that figure: about as much evidence as the state store's decay ever keeps
(`gateway.live.latency_stats.RESPONSE_DECAY` 0.7: 1 / (1 - 0.7) = 3.3)."""


@dataclass(frozen=True, slots=True)
class LatencyFigure:
    """One candidate's figure for this request: the posterior's expected time and this decision's draw."""

    expected_ms: float
    sampled_ms: float


class LatencyStrategy:
    """Ranks by a Thompson draw of each backend's latency for this request, lowest first.

    What is learned: every successful response updates its backend's TTFT and TPOT windows in the
    state store (streams: TTFT and (latency - TTFT) / (tokens - 1); non-streamed answers: their
    latency split into a first-token part and a per-token part with the backend's TPOT observed on
    streams, or latency / tokens before any stream, see `gateway.live.latency_stats.first_token_part_ms`). The store hands the engine
    time-decayed sufficient statistics of log latency (`BackendState.ttft_stats`, `tpot_stats`):
    half-life 20 s and x0.7 per newer response, so a backend that slows loses traffic within a few
    responses and one that recovers wins it back the first time it is sampled again.

    What is ranked: a stream with a short answer (under `LONG_OUTPUT_TOKENS`) by its TTFT; a
    non-streamed request, or a long answer, by its expected completion time, TTFT + (tokens - 1) x
    TPOT, the TPOT term only once some candidate has streamed (without, all would add the same guess).

    Why Thompson sampling (not peak-EWMA with a penalty): the per-backend Normal-Gamma posterior over
    log latency (`policies.latency_posterior`) explores in proportion to the chance that a backend
    is in fact the fastest. An untried or stale backend (its statistics decayed to nothing) starts
    from the prior centred on the route's other candidates' mean, with a spread of about a factor
    1.65, so it is tried soon when the fleet is alike and rarely when a known backend is far faster;
    a backend known to be slow has a tight posterior far from the best and is almost never drawn
    first (a 15x slower one with a few responses: well under 1 in 100, see
    tests/policies/test_latency_strategy.py). A peak-EWMA penalty would need a hand-set exploration
    rate; here the share falls out of the evidence, and the evidence is plain data in the snapshot,
    so a decision replays offline. Randomness comes only from `context.rng`.

    Each ranked candidate carries `latency_ms` (the posterior's expected figure), `sampled_latency_ms`
    (this decision's draw) and `exploration` (it is first although another candidate's expected
    figure is lower), which `explain` shows.
    """

    name = "latency"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        figures = latency_figures(candidates, context)
        order = sorted(range(len(candidates)), key=lambda i: figures[i].sampled_ms)
        greedy_ms = min(figure.expected_ms for figure in figures)
        return [
            replace(
                candidates[i], latency_ms=figures[i].expected_ms, sampled_latency_ms=figures[i].sampled_ms,
                exploration=rank == 0 and figures[i].expected_ms > greedy_ms,
            )
            for rank, i in enumerate(order)
        ]


def _ttft(state: BackendState) -> LogLatencyStats | None:
    if state.ttft_stats is not None:
        return state.ttft_stats
    figure = state.ttft_p95_ms if state.ttft_p95_ms is not None else state.ttft_p50_ms
    return None if figure is None else LogLatencyStats.point(figure, FIGURE_WEIGHT)


def _tpot(state: BackendState) -> LogLatencyStats | None:
    if state.tpot_stats is not None:
        return state.tpot_stats
    figure = state.tpot_p95_ms if state.tpot_p95_ms is not None else state.tpot_p50_ms
    return None if figure is None else LogLatencyStats.point(figure, FIGURE_WEIGHT)


def _fleet_prior(stats: list[LogLatencyStats | None]) -> LatencyPrior:
    """The prior for this route: centred on the mean log figure of the candidates observed (0 if none)."""
    known = [s.mean_log_ms for s in stats if s is not None and s.weight > 0]
    return replace(PRIOR, mean_log_ms=sum(known) / len(known)) if known else PRIOR


class _Figure:
    """One latency component (TTFT or TPOT) across the candidates: their statistics and shared prior."""

    def __init__(self, stats: list[LogLatencyStats | None]) -> None:
        self.stats = stats
        self.prior = _fleet_prior(stats)
        self.observed = any(s is not None and s.weight > 0 for s in stats)

    def expected_ms(self, i: int) -> float:
        return math.exp(posterior_mean_log_ms(self.stats[i], self.prior))

    def sampled_ms(self, i: int, rng: random.Random) -> float:
        return math.exp(sample_log_ms(self.stats[i], self.prior, rng))


def latency_figures(candidates: list[Candidate], context: RankContext) -> list[LatencyFigure]:
    """Each candidate's expected and sampled time for this request (ms), in candidate order."""
    ttft = _Figure([_ttft(c.state) for c in candidates])
    tpot = _Figure([_tpot(c.state) for c in candidates])
    tokens = context.expected_output_tokens
    decode = (not context.features.stream or tokens >= LONG_OUTPUT_TOKENS) and tpot.observed and tokens > 1
    figures = []
    for i in range(len(candidates)):
        expected, sampled = ttft.expected_ms(i), ttft.sampled_ms(i, context.rng)
        if decode:
            expected += (tokens - 1) * tpot.expected_ms(i)
            sampled += (tokens - 1) * tpot.sampled_ms(i, context.rng)
        figures.append(LatencyFigure(expected, sampled))
    return figures
