"""`--plot FILE.png`: monthly cost against traffic, and throughput per GPU against per-user speed.

Inputs are plain pydantic models, so the estimate and plan commands can draw without this
module knowing their internals. matplotlib is an optional extra (`switchyard[plot]`) and is
imported only inside `render_plot`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.errors import PlannerInputError
from planner.prices import DAYS_PER_MONTH, daily_cost_usd

if TYPE_CHECKING:
    from planner.prices import ManagedPrice

__all__ = [
    "CostCurve",
    "CostSeries",
    "ThroughputCurve",
    "ThroughputPoint",
    "ThroughputSeries",
    "break_even_tokens_per_day",
    "cost_curve",
    "render_plot",
]

INSTALL_HINT = "--plot needs matplotlib: pip install 'switchyard[plot]'"


class CostSeries(BaseModel):
    """Monthly cost (USD) at each traffic volume (tokens per day, input + output)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    tokens_per_day: list[float]
    monthly_usd: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> CostSeries:
        if len(self.tokens_per_day) != len(self.monthly_usd) or not self.tokens_per_day:
            raise ValueError("tokens_per_day and monthly_usd need the same, non-zero length")
        return self


class CostCurve(BaseModel):
    """Self-hosting's stepped cost and each managed provider's linear cost over the same traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    self_hosted: CostSeries
    managed: list[CostSeries] = Field(default_factory=list)
    break_even_tokens_per_day: dict[str, float | None] = Field(
        default_factory=dict, description="per managed label; computed from the series where absent"
    )


class ThroughputPoint(BaseModel):
    """One concurrency level of one deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(ge=1)
    output_tokens_per_s_per_user: float = Field(gt=0)
    output_tokens_per_s_per_gpu: float = Field(gt=0)


class ThroughputSeries(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    points: list[ThroughputPoint] = Field(min_length=1)


class ThroughputCurve(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    series: list[ThroughputSeries] = Field(min_length=1)


def cost_curve(
    replica_monthly_usd: float,
    replica_tokens_per_day: float,
    managed: list[ManagedPrice],
    input_share: float,
    cache_hit_rate: float = 0.0,
    max_tokens_per_day: float | None = None,
    label: str = "self-hosted",
    samples: int = 240,
) -> CostCurve:
    """Sample both cost models from 1% of one replica's capacity up to `max_tokens_per_day`.

    Self-hosted: ceil(traffic / replica capacity) replicas, each `replica_monthly_usd` (at least
    one). Managed: `daily_cost_usd` of the traffic split `input_share` input / rest output, x 730/24.
    """
    if replica_monthly_usd <= 0 or replica_tokens_per_day <= 0:
        raise PlannerInputError("a replica needs a positive monthly cost and capacity to plot")
    if not 0.0 <= input_share <= 1.0:
        raise PlannerInputError(f"input share must be between 0 and 1, got {input_share}")
    low = replica_tokens_per_day / 100
    high = max_tokens_per_day or replica_tokens_per_day * 8
    step = (math.log10(high) - math.log10(low)) / (samples - 1)
    grid = [10 ** (math.log10(low) + i * step) for i in range(samples)]
    # The exact capacity of 1..n replicas keeps the steps' corners on the curve.
    grid = sorted({*grid, *(replica_tokens_per_day * n for n in range(1, int(high / replica_tokens_per_day) + 1))})
    self_hosted = CostSeries(
        label=label,
        tokens_per_day=grid,
        monthly_usd=[max(1, math.ceil(t / replica_tokens_per_day - 1e-9)) * replica_monthly_usd for t in grid],
    )
    lines = [
        CostSeries(
            label=price.provider,
            tokens_per_day=grid,
            monthly_usd=[
                daily_cost_usd(price, t * input_share, t * (1 - input_share), cache_hit_rate) * DAYS_PER_MONTH
                for t in grid
            ],
        )
        for price in managed
    ]
    return CostCurve(self_hosted=self_hosted, managed=lines)


def break_even_tokens_per_day(self_hosted: CostSeries, managed: CostSeries) -> float | None:
    """Traffic above which self-hosting stays no dearer than `managed` (linear between samples).

    None when the managed provider is still cheaper at the highest sampled traffic. Both series
    must be sampled at the same traffic volumes.
    """
    if self_hosted.tokens_per_day != managed.tokens_per_day:
        raise PlannerInputError("break-even needs both cost series sampled at the same traffic volumes")
    xs, own, other = self_hosted.tokens_per_day, self_hosted.monthly_usd, managed.monthly_usd
    last_cheaper = max((i for i in range(len(xs)) if other[i] < own[i]), default=None)
    if last_cheaper is None:
        return xs[0]
    if last_cheaper == len(xs) - 1:
        return None
    i = last_cheaper
    gap_before, gap_after = own[i] - other[i], other[i + 1] - own[i + 1]
    return xs[i] + (xs[i + 1] - xs[i]) * gap_before / (gap_before + gap_after)


def render_plot(path: str, cost: CostCurve | None, throughput: ThroughputCurve | None) -> None:
    """Draw whichever of the two panels has data into one PNG at `path`."""
    panels = [panel for panel in (cost, throughput) if panel is not None]
    if not panels:
        raise PlannerInputError("nothing to plot")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlannerInputError(INSTALL_HINT) from exc

    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.0), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        if isinstance(panel, CostCurve):
            _draw_cost(axis, panel)
        else:
            _draw_throughput(axis, panel)
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=120)
    except OSError as exc:
        raise PlannerInputError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(figure)


def _draw_cost(axis, curve: CostCurve) -> None:
    own = curve.self_hosted
    axis.step(own.tokens_per_day, own.monthly_usd, where="post", color="black", linewidth=2.2, label=own.label)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for color, line in zip(colors * 4, curve.managed):
        if line.label in curve.break_even_tokens_per_day:
            crossing = curve.break_even_tokens_per_day[line.label]
        else:
            crossing = break_even_tokens_per_day(own, line)
        if crossing is None:
            label = f"{line.label}: cheaper throughout"
        else:
            label = f"{line.label}: break-even {_si(crossing)} tokens/day"
            axis.axvline(crossing, color=color, linestyle="--", linewidth=1.0)
        axis.plot(line.tokens_per_day, line.monthly_usd, color=color, linewidth=1.6, label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("traffic (input + output tokens per day)")
    axis.set_ylabel("USD per month")
    axis.set_title("Monthly cost: self-hosted vs managed APIs")
    axis.grid(True, which="both", alpha=0.25)
    axis.legend(fontsize=8, loc="upper left")


def _draw_throughput(axis, curve: ThroughputCurve) -> None:
    for series in curve.series:
        points = sorted(series.points, key=lambda p: p.concurrency)
        xs = [p.output_tokens_per_s_per_user for p in points]
        ys = [p.output_tokens_per_s_per_gpu for p in points]
        axis.plot(xs, ys, marker="o", linewidth=1.6, label=series.label)
        for point, x, y in zip(points, xs, ys):
            axis.annotate(str(point.concurrency), xy=(x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    axis.set_xlabel("output tokens/s per user")
    axis.set_ylabel("output tokens/s per GPU")
    axis.set_title("Throughput per GPU vs per-user speed (labels: concurrency)")
    axis.grid(True, alpha=0.25)
    axis.legend(fontsize=8)


def _si(value: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"
