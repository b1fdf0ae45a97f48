"""Attempt costs: managed per-token billing with cache hits and reasoning, self-hosted amortised share."""

from __future__ import annotations

import pytest
from accounting_fixtures import FakeClock, accounting_policy

from backends.usage import Usage
from gateway.costing import CostBook, ThroughputMeter, to_nano_usd



def test_deepseek_response_with_cache_hits_and_reasoning_matches_a_hand_computation():
    # the fixture's DeepSeek backend is priced as the DeepSeek API priced V3.2 (deepseek-chat, until 2026-04-24)
    assert accounting_policy().backends["deepseek"].price.model_dump() == {
        "input_usd_per_mtok": 0.28, "cached_input_usd_per_mtok": 0.028, "output_usd_per_mtok": 0.42}
    # 12,000 prompt tokens of which 10,000 hit the cache; 3,000 completion tokens of which 2,000 are reasoning.
    usage = Usage(prompt_tokens=12_000, cached_tokens=10_000, completion_tokens=3_000, reasoning_tokens=2_000)
    cost = CostBook(accounting_policy()).cost("deepseek", usage, latency_ms=900.0)
    # by hand: 2,000 x 0.28 + 10,000 x 0.028 + 3,000 x 0.42 = 560 + 280 + 1,260 = 2,100 USD per Mtok-token
    assert cost.managed_usd == pytest.approx(2_100 / 1_000_000, abs=1e-15)
    assert to_nano_usd(cost.managed_usd) == 2_100_000
    assert cost.self_hosted_usd is None


def test_reasoning_tokens_are_billed_once_as_output():
    book = CostBook(accounting_policy())
    plain = book.cost("deepseek", Usage(prompt_tokens=100, completion_tokens=1_000), 1.0)
    thinking = book.cost("deepseek", Usage(prompt_tokens=100, completion_tokens=1_000, reasoning_tokens=900), 1.0)
    assert thinking.managed_usd == plain.managed_usd == pytest.approx((100 * 0.28 + 1_000 * 0.42) / 1e6)


def test_provider_without_a_cache_price_bills_cached_tokens_at_the_input_price():
    cost = CostBook(accounting_policy()).cost("fireworks", Usage(prompt_tokens=12_000, cached_tokens=10_000, completion_tokens=3_000), 1.0)
    assert cost.managed_usd == pytest.approx((12_000 * 0.56 + 3_000 * 1.68) / 1e6)


def test_self_hosted_attempt_costs_its_share_of_the_gpu_hours_and_nothing_per_token():
    clock = FakeClock(1_000.0)
    book = CostBook(accounting_policy(), ThroughputMeter(window_s=300.0, clock=clock))
    # 8 GPUs x 3.60 USD/h = 0.008 USD/s. The first attempt kept the GPUs busy for 10 s with 5,000 tokens:
    first = book.cost("local", Usage(prompt_tokens=12_000, cached_tokens=10_000, completion_tokens=3_000), 10_000.0)
    assert first.managed_usd == 0.0
    assert first.self_hosted_usd == pytest.approx(5_000 * 0.008 / (5_000 / 10.0))  # 10 s of GPU time: 0.08 USD
    clock.now_s += 10.0  # 10 s later another 5,000 tokens: 10,000 tokens over 20 s, 500 tokens/s
    second = book.cost("local", Usage(prompt_tokens=5_000, completion_tokens=0), 1_000.0)
    assert second.self_hosted_usd == pytest.approx(5_000 * 0.008 / 500.0)


def test_attempt_without_usage_or_unknown_backend_has_no_cost():
    book = CostBook(accounting_policy())
    assert book.cost("deepseek", None, 5.0).managed_usd is None
    assert book.cost("nope", Usage(prompt_tokens=1), 5.0).managed_usd is None
