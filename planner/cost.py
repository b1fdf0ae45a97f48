"""Money: monthly GPU cost, cost per million tokens at a utilisation, managed-API comparison, break-even.

- monthly cost = GPUs x USD per GPU-hour x 730 h (8,760 h a year / 12, the GPU-rental month);
- tokens served a month = estimated throughput x utilisation x 730 x 3,600 s;
- cost per million input / output tokens splits the GPU time by what it is spent on: the prefill
  share of each DP rank's time (planner.batching) is charged to input tokens, the rest to output;
- a managed provider's monthly cost for the same traffic uses its input, cache-hit input and output
  prices (planner.prices.monthly_cost_usd); self-hosting wins above the break-even volume, the
  tokens a day (in the workload's input:output mix) at which the managed bill equals the GPU bill.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.prices import DAYS_PER_MONTH, ManagedPrice, monthly_cost_usd

__all__ = ["CostEstimate", "ManagedCost", "Traffic", "estimate_cost", "HOURS_PER_MONTH", "SECONDS_PER_DAY"]

HOURS_PER_MONTH = DAYS_PER_MONTH * 24
SECONDS_PER_DAY = 86_400


class Traffic(BaseModel):
    """Tokens a day, input and output."""

    model_config = ConfigDict(frozen=True)

    input_tokens_per_day: float
    output_tokens_per_day: float

    @property
    def total_per_day(self) -> float:
        return self.input_tokens_per_day + self.output_tokens_per_day


class ManagedCost(BaseModel):
    """One managed provider's prices and what the same traffic costs there."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model_id: str
    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    output_usd_per_mtok: float
    monthly_usd: float
    break_even_tokens_per_day: float | None
    break_even_reachable: bool
    self_hosting_cheaper: bool
    source: str


class CostEstimate(BaseModel):
    """The `cost.*` keys of the JSON contract, plus the figures behind them."""

    model_config = ConfigDict(frozen=True)

    gpu_hourly_usd: float
    gpu_hourly_usd_source: str
    monthly_usd: float
    usd_per_million_output_tokens: float | None
    usd_per_million_input_tokens: float | None
    usd_per_million_tokens: float | None
    utilization: float
    cache_hit_rate: float
    input_tokens_per_day: float
    output_tokens_per_day: float
    capacity_tokens_per_day: float
    managed: list[ManagedCost]


def _per_mtok(usd: float, tokens: float) -> float | None:
    return round(usd / tokens * 1e6, 4) if tokens > 0 else None


def estimate_cost(
    gpus: int,
    gpu_hourly_usd: float,
    gpu_hourly_usd_source: str,
    traffic: Traffic,
    capacity: Traffic,
    prefill_share: float,
    utilization: float,
    prices: list[ManagedPrice],
    cache_hit_rate: float = 0.0,
) -> CostEstimate:
    """Self-hosted cost of `traffic` on a deployment able to serve `capacity`, against managed APIs."""
    monthly = gpus * gpu_hourly_usd * HOURS_PER_MONTH
    days = DAYS_PER_MONTH
    managed = []
    for price in prices:
        managed_monthly = monthly_cost_usd(price, traffic.input_tokens_per_day, traffic.output_tokens_per_day, cache_hit_rate)
        per_day_per_token = (
            managed_monthly / days / traffic.total_per_day if traffic.total_per_day > 0
            else None
        )
        break_even = monthly / days / per_day_per_token if per_day_per_token else None
        managed.append(ManagedCost(
            provider=price.provider,
            model_id=price.model_id,
            input_usd_per_mtok=price.input_usd_per_mtok,
            cached_input_usd_per_mtok=price.cached_input_usd_per_mtok,
            output_usd_per_mtok=price.output_usd_per_mtok,
            monthly_usd=round(managed_monthly, 2),
            break_even_tokens_per_day=round(break_even) if break_even else None,
            break_even_reachable=bool(break_even and break_even <= capacity.total_per_day),
            self_hosting_cheaper=monthly < managed_monthly,
            source=price.source,
        ))
    return CostEstimate(
        gpu_hourly_usd=gpu_hourly_usd,
        gpu_hourly_usd_source=gpu_hourly_usd_source,
        monthly_usd=round(monthly, 2),
        usd_per_million_output_tokens=_per_mtok(monthly * (1 - prefill_share), traffic.output_tokens_per_day * days),
        usd_per_million_input_tokens=_per_mtok(monthly * prefill_share, traffic.input_tokens_per_day * days),
        usd_per_million_tokens=_per_mtok(monthly, traffic.total_per_day * days),
        utilization=utilization,
        cache_hit_rate=cache_hit_rate,
        input_tokens_per_day=round(traffic.input_tokens_per_day),
        output_tokens_per_day=round(traffic.output_tokens_per_day),
        capacity_tokens_per_day=round(capacity.total_per_day),
        managed=managed,
    )
