"""The price-refresh job: when litellm's cost map changes on disk, routing and costs use the new prices."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway.live.jobs import LiveJobs
from gateway.runtime import GatewayRuntime
from planner import prices
from policies.compiled import compiled
from policies.loader import parse_policy_text

POLICY = """
version: 1
backends:
  novita:
    type: novita
    api_key: sk-test
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
models:
  auto: {}
routes:
  - name: default
    use: [novita]
    prefer: cost
"""


def _write_cost_map(path: Path, input_per_token: float, output_per_token: float, bump_s: int) -> None:
    path.write_text(json.dumps({"novita/deepseek/deepseek-v3.2": {
        "input_cost_per_token": input_per_token, "output_cost_per_token": output_per_token,
        "cache_read_input_token_cost": input_per_token / 2, "litellm_provider": "novita", "max_input_tokens": 163840,
    }}))  # fmt: skip
    stamp_ns = 1_800_000_000_000_000_000 + bump_s * 1_000_000_000  # distinct mtimes, whatever the clock
    os.utime(path, ns=(stamp_ns, stamp_ns))


@pytest.fixture
def cost_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cost map file of the test's own in place of litellm's bundled one."""
    path = tmp_path / prices.COST_MAP_FILENAME
    _write_cost_map(path, 2.7e-07, 4e-07, bump_s=0)
    monkeypatch.setattr(prices, "cost_map_path", lambda: path)
    prices._cost_map.cache_clear()
    yield path
    prices._cost_map.cache_clear()  # the next test reads litellm's own file again


def test_a_changed_cost_map_is_read_again_and_an_unchanged_one_is_not(cost_map: Path) -> None:
    assert prices.price_for_key("novita/deepseek/deepseek-v3.2").input_usd_per_mtok == 0.27
    assert prices.reload_cost_map_if_changed() is False
    _write_cost_map(cost_map, 5e-07, 9e-07, bump_s=60)
    assert prices.reload_cost_map_if_changed() is True
    assert prices.price_for_key("novita/deepseek/deepseek-v3.2").input_usd_per_mtok == 0.5
    assert prices.reload_cost_map_if_changed() is False


async def test_the_refresh_job_reprices_routing_and_the_backends_and_keeps_their_connections(cost_map: Path) -> None:
    runtime = GatewayRuntime(parse_policy_text(POLICY, "p.yaml"))
    jobs = LiveJobs(runtime)
    try:
        backend_before = runtime.backends["novita"].backend
        assert runtime.backends["novita"].price.output_usd_per_mtok == 0.4
        await jobs.refresh_prices()  # nothing changed: nothing re-applied
        assert runtime.backends["novita"].price.output_usd_per_mtok == 0.4

        _write_cost_map(cost_map, 5e-07, 9e-07, bump_s=60)
        await jobs.refresh_prices()
        entry = runtime.backends["novita"]
        assert (entry.price.input_usd_per_mtok, entry.price.cached_input_usd_per_mtok, entry.price.output_usd_per_mtok) == (
            0.5, 0.25, 0.9)
        assert compiled(runtime.policy).backends["novita"].price.output_usd_per_mtok == 0.9  # what `decide` prices with
        assert entry.backend is backend_before  # same adapter, same pooled connections
    finally:
        await jobs.client.aclose()
        await runtime.aclose()
