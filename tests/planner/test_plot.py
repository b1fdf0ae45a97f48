"""`--plot`: cost curves, break-even, and the PNG (matplotlib is the optional `plot` extra)."""

from __future__ import annotations

import sys

import pytest

from planner.errors import PlannerInputError
from planner.plot import (
    CostCurve,
    CostSeries,
    ThroughputCurve,
    ThroughputPoint,
    ThroughputSeries,
    break_even_tokens_per_day,
    cost_curve,
    render_plot,
)
from planner.prices import managed_prices


def _series(label: str, costs: list[float]) -> CostSeries:
    return CostSeries(label=label, tokens_per_day=[1.0, 2.0, 3.0, 4.0], monthly_usd=costs)


def test_break_even_interpolates_between_the_samples_where_the_lines_cross() -> None:
    # Managed 4, 8, 12, 16 against a flat 10: cheaper up to 2 (gap 2), dearer from 3 (gap 2) -> 2.5.
    assert break_even_tokens_per_day(_series("own", [10, 10, 10, 10]), _series("api", [4, 8, 12, 16])) == 2.5


def test_break_even_is_after_the_last_step_where_managed_is_cheaper_again() -> None:
    # A second replica at 3 makes self-hosting dearer again (20 > 12); it wins for good after 3.
    own, api = _series("own", [10, 10, 20, 20]), _series("api", [4, 12, 12, 24])
    assert break_even_tokens_per_day(own, api) == pytest.approx(3 + 8 / 12)


def test_no_break_even_when_managed_stays_cheaper() -> None:
    assert break_even_tokens_per_day(_series("own", [10] * 4), _series("api", [1, 2, 3, 4])) is None


def test_cost_curve_steps_up_one_replica_per_capacity_and_prices_managed_linearly() -> None:
    novita = [p for p in managed_prices("deepseek-v3.2") if p.provider == "novita"]
    curve = cost_curve(1000.0, 1e8, novita, input_share=0.75, max_tokens_per_day=4e8)
    own = dict(zip(curve.self_hosted.tokens_per_day, curve.self_hosted.monthly_usd))
    assert own[1e8] == 1000.0 and own[2e8] == 2000.0 and own[4e8] == 4000.0
    assert min(own) == pytest.approx(1e6) and own[min(own)] == 1000.0
    api = dict(zip(curve.managed[0].tokens_per_day, curve.managed[0].monthly_usd))
    # 4e8 tokens/day: 300 Mtok input x 0.269 + 100 Mtok output x 0.40 = 120.7 USD/day x 730/24.
    assert api[4e8] == pytest.approx(120.7 * 730 / 24)


def test_cost_curve_rejects_a_replica_without_capacity() -> None:
    with pytest.raises(PlannerInputError, match="positive monthly cost and capacity"):
        cost_curve(1000.0, 0.0, [], input_share=0.5)


def _throughput() -> ThroughputCurve:
    points = [
        ThroughputPoint(concurrency=c, output_tokens_per_s_per_user=60 / (1 + c / 64), output_tokens_per_s_per_gpu=7.5 * c / (1 + c / 64))
        for c in (1, 8, 64, 256)
    ]
    return ThroughputCurve(series=[ThroughputSeries(label="8x H200", points=points)])


def test_render_plot_writes_a_png_with_both_panels(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is the optional 'plot' extra: pip install 'switchyard[plot]'")
    curve = cost_curve(8 * 3.6 * 730, 3e9, managed_prices("deepseek-v3.2"), input_share=0.75, max_tokens_per_day=3e10)
    path = tmp_path / "plan.png"
    render_plot(str(path), curve, _throughput())
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000  # two drawn panels, not an empty canvas


def test_render_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlannerInputError, match=r"pip install 'switchyard\[plot\]'"):
        render_plot(str(tmp_path / "x.png"), None, _throughput())


def test_render_plot_needs_at_least_one_panel(tmp_path) -> None:
    with pytest.raises(PlannerInputError, match="nothing to plot"):
        render_plot(str(tmp_path / "x.png"), None, None)


def test_cost_series_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="same, non-zero length"):
        CostCurve(self_hosted=CostSeries(label="own", tokens_per_day=[1.0, 2.0], monthly_usd=[1.0]))
