"""Monthly cost, cost per million tokens, managed comparison and break-even."""

from __future__ import annotations

import pytest

from planner.cost import Traffic, estimate_cost
from planner.prices import ManagedPrice

PRICE = ManagedPrice(provider="acme", family="x", model_id="m", litellm_key=None, input_usd_per_mtok=0.5,
                     cached_input_usd_per_mtok=0.1, output_usd_per_mtok=2.0, context_window=None, source="test")


def test_monthly_cost_is_gpus_times_hourly_times_730():
    traffic = Traffic(input_tokens_per_day=1e9, output_tokens_per_day=2.5e8)
    cost = estimate_cost(8, 3.0, "test", traffic, traffic, 0.25, 0.6, [])
    assert cost.monthly_usd == 8 * 3.0 * 730 == 17_520


def test_per_million_prices_split_gpu_time_between_prefill_and_decode():
    traffic = Traffic(input_tokens_per_day=1e9, output_tokens_per_day=2.5e8)
    cost = estimate_cost(8, 3.0, "test", traffic, traffic, 0.25, 0.6, [])
    days = 730 / 24
    assert cost.usd_per_million_input_tokens == pytest.approx(17_520 * 0.25 / (1e9 * days / 1e6), abs=1e-4)
    assert cost.usd_per_million_output_tokens == pytest.approx(17_520 * 0.75 / (2.5e8 * days / 1e6), abs=1e-4)
    assert cost.usd_per_million_tokens == pytest.approx(17_520 / (1.25e9 * days / 1e6), abs=1e-4)


def test_managed_cost_uses_cache_hit_pricing_and_break_even_matches_the_gpu_bill():
    traffic = Traffic(input_tokens_per_day=8e8, output_tokens_per_day=2e8)
    capacity = Traffic(input_tokens_per_day=4e9, output_tokens_per_day=1e9)
    cost = estimate_cost(8, 3.0, "test", traffic, capacity, 0.3, 0.6, [PRICE], cache_hit_rate=0.5)
    managed = cost.managed[0]
    days = 730 / 24
    per_day = (8e8 * (0.5 * 0.5 + 0.5 * 0.1) + 2e8 * 2.0) / 1e6
    assert managed.monthly_usd == pytest.approx(per_day * days, abs=0.01)
    per_token = per_day / 1e9
    assert managed.break_even_tokens_per_day == pytest.approx(17_520 / days / per_token, abs=1)
    assert managed.break_even_reachable == (managed.break_even_tokens_per_day <= 5e9)
    assert managed.self_hosting_cheaper == (17_520 < managed.monthly_usd)
