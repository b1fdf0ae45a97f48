"""Where self-hosting wins: the cheapest plan at each traffic volume against every managed API.

For each volume from `MIN_TOKENS_PER_DAY` to `MAX_TOKENS_PER_DAY` (log grid) the plan search's cost
frontier (planner.search.cost_frontier: every candidate meeting the SLOs, aggregated or disaggregated,
replicated to serve the volume) gives the cheapest self-hosted monthly cost; each managed provider's
cost is its price list applied to the same traffic (planner.prices). The break-even with a provider is
the volume above which self-hosting stays cheaper (interpolated on the grid), or none when the provider
is cheaper all the way to the largest volume. Both sides see the same prompt-cache hit rate: the
provider bills hits at its cache price, the self-hosted engines skip recomputing them.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from planner.cost import HOURS_PER_MONTH
from planner.model_spec import ModelSpec
from planner.plot import CostCurve, CostSeries, break_even_tokens_per_day
from planner.prices import ManagedPrice, monthly_cost_usd
from planner.search import FrontierPoint, PlanRequest, cost_frontier

__all__ = ["BreakEvenReport", "ProviderBreakEven", "break_even", "volume_grid", "MIN_TOKENS_PER_DAY",
           "MAX_TOKENS_PER_DAY", "POINTS_PER_DECADE"]

MIN_TOKENS_PER_DAY = 1e6
MAX_TOKENS_PER_DAY = 1e11
POINTS_PER_DECADE = 8


class ProviderBreakEven(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str
    model_id: str
    usd_per_million_tokens: float
    """The provider's blended price for this traffic mix and cache-hit rate."""
    break_even_tokens_per_day: float | None
    source: str


class BreakEvenReport(BaseModel):
    """`planner plan --break-even --json`: the frontier and the break-even with each provider."""

    model_config = ConfigDict(frozen=True)

    model: str
    gpus: list[str]
    engines: list[str]
    input_len: int
    output_len: int
    tpot_ms: float | None
    ttft_p95_ms: float | None
    cache_hit_rate: float
    frontier: list[FrontierPoint | None]
    providers: list[ProviderBreakEven]

    def cost_curve(self) -> CostCurve:
        """The frontier and the providers' lines as plot series (volumes where nothing meets the SLOs dropped)."""
        points = [p for p in self.frontier if p is not None]
        xs = [p.tokens_per_day for p in points]
        managed = [
            CostSeries(label=p.provider, tokens_per_day=xs,
                       monthly_usd=[p.usd_per_million_tokens * x * HOURS_PER_MONTH / 24 / 1e6 for x in xs])
            for p in self.providers
        ]
        label = f"best self-hosted plan ({', '.join(self.gpus)})"
        return CostCurve(self_hosted=CostSeries(label=label, tokens_per_day=xs, monthly_usd=[p.monthly_usd for p in points]),
                         managed=managed,
                         break_even_tokens_per_day={p.provider: p.break_even_tokens_per_day for p in self.providers})


def volume_grid() -> list[float]:
    decades = round(math.log10(MAX_TOKENS_PER_DAY / MIN_TOKENS_PER_DAY))
    steps = decades * POINTS_PER_DECADE
    return [MIN_TOKENS_PER_DAY * 10 ** (i / POINTS_PER_DECADE) for i in range(steps + 1)]


def break_even(spec: ModelSpec, req: PlanRequest, prices: list[ManagedPrice], cache_hit_rate: float = 0.0) -> BreakEvenReport:
    """The cheapest self-hosted plan across the volume grid and the break-even with each provider."""
    grid = volume_grid()
    frontier = cost_frontier(spec, req, grid)
    xs = [p.tokens_per_day for p in frontier if p is not None]
    own = CostSeries(label="self-hosted", tokens_per_day=xs, monthly_usd=[p.monthly_usd for p in frontier if p is not None]) if xs else None
    share_in = req.input_len / (req.input_len + req.output_len)
    providers = []
    for price in prices:
        per_mtok = monthly_cost_usd(price, 1e6 * share_in, 1e6 * (1 - share_in), cache_hit_rate) / (HOURS_PER_MONTH / 24)
        crossing = None
        if own is not None:
            line = CostSeries(label=price.provider, tokens_per_day=xs,
                              monthly_usd=[monthly_cost_usd(price, x * share_in, x * (1 - share_in), cache_hit_rate) for x in xs])
            crossing = break_even_tokens_per_day(own, line)
        providers.append(ProviderBreakEven(provider=price.provider, model_id=price.model_id,
                                           usd_per_million_tokens=round(per_mtok, 4),
                                           break_even_tokens_per_day=round(crossing) if crossing else None,
                                           source=price.source))
    return BreakEvenReport(
        model=spec.name, gpus=list(req.gpus), engines=list(req.engines), input_len=req.input_len,
        output_len=req.output_len, tpot_ms=req.tpot_ms, ttft_p95_ms=req.ttft_p95_ms, cache_hit_rate=cache_hit_rate,
        frontier=frontier, providers=sorted(providers, key=lambda p: p.usd_per_million_tokens),
    )
