"""Backend prices: cost-map keys per provider, the policy's override, self-hosted marginal cost."""

from __future__ import annotations

import pytest

from policies.price_lookup import cost_map_key
from policies.pricing import BackendPrice, resolve_price
from policies.schema import BackendSpec


@pytest.mark.parametrize(
    ("backend_type", "model", "key"),
    [
        ("novita", "deepseek/deepseek-v3.2", "novita/deepseek/deepseek-v3.2"),
        ("fireworks", "accounts/fireworks/models/deepseek-v3p2", "fireworks_ai/accounts/fireworks/models/deepseek-v3p2"),
        ("deepseek", "deepseek-chat", "deepseek/deepseek-chat"),
        ("deepseek", "deepseek/deepseek-chat", "deepseek/deepseek-chat"),
        ("openai", "gpt-4o", "gpt-4o"),
        ("vllm", "deepseek-ai/DeepSeek-V3.2", None),
    ],
)
def test_cost_map_key_uses_the_provider_prefix(backend_type, model, key):
    assert cost_map_key(backend_type, model) == key


def test_managed_price_comes_from_litellm_cost_map():
    price = resolve_price(BackendSpec(type="novita", model="deepseek/deepseek-v3.2"))
    assert (price.input_usd_per_mtok, price.cached_input_usd_per_mtok, price.output_usd_per_mtok) == (0.269, 0.1345, 0.4)
    assert "novita/deepseek/deepseek-v3.2" in price.source


def test_emulator_is_priced_like_its_profile():
    spec = BackendSpec(type="emulator", profile="fireworks", base_url="http://127.0.0.1:1/v1",
                       model="accounts/fireworks/models/deepseek-v3p1-terminus")
    price = resolve_price(spec)
    assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == (0.56, 1.68)
    assert spec.context_window == 128000


def test_policy_price_overrides_the_cost_map():
    spec = BackendSpec(type="novita", model="deepseek/deepseek-v3.2",
                       price={"input_usd_per_mtok": 0.1, "output_usd_per_mtok": 0.2})
    assert resolve_price(spec) == BackendPrice(0.1, None, 0.2, "policy price")


def test_self_hosted_costs_its_marginal_price():
    assert resolve_price(BackendSpec(type="vllm", model="m")) == BackendPrice(0.0, 0.0, 0.0, "self-hosted marginal cost")
    spec = BackendSpec(type="sglang", model="m", cost={"gpu_hourly_usd": 2.0, "gpus": 8, "marginal_usd_per_mtok": 0.05})
    assert resolve_price(spec).output_usd_per_mtok == 0.05


def test_unknown_managed_model_has_no_price():
    assert resolve_price(BackendSpec(type="fireworks", model="accounts/x/models/nope")) is None


def test_cost_formula_bills_cached_input_at_the_cached_price():
    price = BackendPrice(input_usd_per_mtok=0.28, cached_input_usd_per_mtok=0.028, output_usd_per_mtok=0.42, source="t")
    # 1M input of which 400k cached, 100k output
    assert price.cost_usd(1_000_000, 100_000, cached_input_tokens=400_000) == pytest.approx(0.6 * 0.28 + 0.4 * 0.028 + 0.1 * 0.42)
    no_cache_price = BackendPrice(1.0, None, 2.0, "t")
    assert no_cache_price.cost_usd(1_000_000, 0, cached_input_tokens=500_000) == pytest.approx(1.0)
