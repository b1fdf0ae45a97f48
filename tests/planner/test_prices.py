"""Managed prices: litellm's bundled cost map read as JSON, the provider table, YAML overrides, cost arithmetic."""

from __future__ import annotations

import subprocess
import sys

import pytest

from planner.errors import PlannerInputError
from planner.prices import (
    DAYS_PER_MONTH,
    cost_map_path,
    daily_cost_usd,
    litellm_version,
    managed_families,
    managed_prices,
    monthly_cost_usd,
    price_for_key,
)


def _by_provider(family: str, overrides: str | None = None) -> dict:
    return {price.provider: price for price in managed_prices(family, overrides)}


def test_v32_prices_come_from_litellm_cost_map_per_provider() -> None:
    # litellm 1.110.2 cost map: novita/deepseek/deepseek-v3.2 2.69e-07 / 1.345e-07 / 4e-07,
    # fireworks_ai/.../deepseek-v3p2 5.6e-07 / - / 1.68e-06. The DeepSeek API serves V4 only since 2026-04-24.
    prices = _by_provider("deepseek-v3.2")
    assert set(prices) == {"fireworks", "novita"}
    novita, fireworks = prices["novita"], prices["fireworks"]
    assert (novita.input_usd_per_mtok, novita.cached_input_usd_per_mtok, novita.output_usd_per_mtok) == (0.269, 0.1345, 0.4)
    assert (fireworks.input_usd_per_mtok, fireworks.cached_input_usd_per_mtok, fireworks.output_usd_per_mtok) == (0.56, None, 1.68)
    assert fireworks.model_id == "accounts/fireworks/models/deepseek-v3p2"
    assert novita.model_id == "deepseek/deepseek-v3.2"
    assert novita.context_window == 163840


def test_the_deepseek_api_is_priced_only_under_its_v4_families() -> None:
    # litellm 1.110.2: deepseek/deepseek-v4-flash 3e-07 / 6e-09 / 1.2e-06 per token, 1M input tokens
    deepseek = _by_provider("deepseek-v4-flash")["deepseek"]
    assert (deepseek.model_id, deepseek.input_usd_per_mtok, deepseek.cached_input_usd_per_mtok, deepseek.output_usd_per_mtok) == (
        "deepseek-v4-flash", 0.3, 0.006, 1.2)
    assert deepseek.context_window == 1_000_000 and deepseek.deprecation_date is None
    assert set(_by_provider("deepseek-v4-flash")) == {"deepseek", "fireworks", "novita"}
    assert set(_by_provider("deepseek-v4-pro")) == {"deepseek"}
    offered = {(p.provider, p.model_id) for family in managed_families() for p in managed_prices(family)}
    assert not {("deepseek", "deepseek-chat"), ("deepseek", "deepseek-reasoner")} & offered  # retired 2026-07-24


def test_every_price_names_litellm_version_file_and_key() -> None:
    price = _by_provider("deepseek-v3.2")["novita"]
    assert litellm_version() == "1.110.2"
    assert price.source == (
        "litellm 1.110.2 model_prices_and_context_window_backup.json key novita/deepseek/deepseek-v3.2"
    )
    assert "upstream: https://api-docs.deepseek.com/quick_start/pricing" in _by_provider("deepseek-v4-flash")["deepseek"].source


def test_every_row_of_the_provider_table_resolves_in_the_cost_map() -> None:
    assert cost_map_path().name == "model_prices_and_context_window_backup.json"
    for family in managed_families():
        rows = managed_prices(family)
        assert rows, family
        for price in rows:
            assert price_for_key(price.litellm_key) is not None, price.litellm_key


def test_terminus_is_offered_by_fireworks_and_novita_only() -> None:
    prices = _by_provider("deepseek-v3.1-terminus")
    assert sorted(prices) == ["fireworks", "novita"]
    assert prices["fireworks"].model_id == "accounts/fireworks/models/deepseek-v3p1-terminus"
    assert prices["novita"].output_usd_per_mtok == 1.0


def test_family_no_provider_offers_has_no_rows() -> None:
    assert managed_prices("qwen2.5-coder-32b") == []


def test_price_for_key_maps_litellm_provider_names_and_rejects_unknown_keys() -> None:
    price = price_for_key("fireworks_ai/accounts/fireworks/models/deepseek-v3p2")
    assert price is not None
    assert (price.provider, price.model_id) == ("fireworks", "accounts/fireworks/models/deepseek-v3p2")
    assert price_for_key("nobody/no-such-model") is None


def test_reading_prices_never_imports_litellm_or_yaml() -> None:
    code = (
        "import sys, planner.prices as p; p.managed_prices('deepseek-v3.2'); "
        "print(sorted(m for m in ('litellm', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_override_replaces_cost_map_row_and_keeps_its_model_id(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "prices:\n"
        "  - provider: fireworks\n"
        "    family: deepseek-v3.2\n"
        "    input_usd_per_mtok: 0.5\n"
        "    cached_input_usd_per_mtok: 0.25\n"
        "    output_usd_per_mtok: 1.5\n"
        "    source: contract 2026-11\n"
    )
    prices = _by_provider("deepseek-v3.2", str(path))
    fireworks = prices["fireworks"]
    assert (fireworks.input_usd_per_mtok, fireworks.cached_input_usd_per_mtok, fireworks.output_usd_per_mtok) == (0.5, 0.25, 1.5)
    assert fireworks.model_id == "accounts/fireworks/models/deepseek-v3p2"
    assert fireworks.context_window == 163840
    assert fireworks.source == f"{path}: contract 2026-11"
    assert prices["novita"].input_usd_per_mtok == 0.269  # untouched rows stay


def test_override_for_a_new_provider_needs_a_model_id(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    row = "  - {provider: together, family: deepseek-v3.2, input_usd_per_mtok: 0.6, output_usd_per_mtok: 1.7, source: s}\n"
    path.write_text("prices:\n" + row)
    with pytest.raises(PlannerInputError, match="needs a model_id"):
        managed_prices("deepseek-v3.2", str(path))
    path2 = tmp_path / "prices2.yaml"
    path2.write_text("prices:\n" + row.replace("source: s", "model_id: deepseek-ai/DeepSeek-V3.2, source: s"))
    assert _by_provider("deepseek-v3.2", str(path2))["together"].output_usd_per_mtok == 1.7


def test_override_typo_names_file_line_and_field(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "prices:\n"
        "  - provider: novita\n"
        "    family: deepseek-v3.2\n"
        "    input_usd_per_mtok: 0.2\n"
        "    output_usd_per_mtok: 0.4\n"
        "    sourse: typo\n"
    )
    with pytest.raises(PlannerInputError) as error:
        managed_prices("deepseek-v3.2", str(path))
    message = str(error.value)
    assert message == f"{path}:6: prices.0.sourse: Extra inputs are not permitted"
    assert "\n" not in message


def test_override_without_source_is_rejected(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("prices:\n  - {provider: novita, family: deepseek-v3.2, input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.4}\n")
    with pytest.raises(PlannerInputError, match=r"prices\.0\.source: Field required"):
        managed_prices("deepseek-v3.2", str(path))


def test_missing_override_file_is_one_line_error(tmp_path) -> None:
    with pytest.raises(PlannerInputError, match="cannot read prices file"):
        managed_prices("deepseek-v3.2", str(tmp_path / "nope.yaml"))


def test_monthly_cost_bills_cache_hits_at_the_cache_price() -> None:
    deepseek = _by_provider("deepseek-v4-flash")["deepseek"]
    # 1,000 Mtok input/day, half cache hits: 500 x 0.30 + 500 x 0.006 = 153; 100 Mtok output x 1.20 = 120.
    assert daily_cost_usd(deepseek, 1e9, 1e8, cache_hit_rate=0.5) == pytest.approx(273.0)
    assert monthly_cost_usd(deepseek, 1e9, 1e8, cache_hit_rate=0.5) == pytest.approx(273.0 * 730 / 24)
    assert DAYS_PER_MONTH == pytest.approx(30.4167, abs=1e-4)


def test_cache_hits_cost_full_price_where_the_provider_has_no_cache_price() -> None:
    fireworks = _by_provider("deepseek-v3.2")["fireworks"]
    # 100 Mtok x 0.56 + 10 Mtok x 1.68 = 72.8, whatever the hit rate.
    assert daily_cost_usd(fireworks, 1e8, 1e7, cache_hit_rate=0.9) == pytest.approx(72.8)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_cache_hit_rate_outside_zero_to_one_is_an_input_error(rate: float) -> None:
    with pytest.raises(PlannerInputError, match="--cache-hit-rate"):
        daily_cost_usd(_by_provider("deepseek-v3.2")["novita"], 1e6, 1e6, cache_hit_rate=rate)


def test_without_litellm_prices_come_only_from_the_override_file(monkeypatch, tmp_path) -> None:
    import planner.prices as prices

    monkeypatch.setattr(prices, "cost_map_path", lambda: None)
    monkeypatch.setattr(prices, "_cost_map", lambda: {})
    with pytest.raises(PlannerInputError, match="cost map was not found"):
        managed_prices("deepseek-v3.2")
    path = tmp_path / "prices.yaml"
    path.write_text(
        "prices:\n  - {provider: novita, family: deepseek-v3.2, model_id: deepseek/deepseek-v3.2,"
        " input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.4, source: novita.ai 2026-11}\n"
    )
    (only,) = managed_prices("deepseek-v3.2", str(path))
    assert (only.provider, only.output_usd_per_mtok, only.litellm_key) == ("novita", 0.4, None)
