"""`planner plan`: candidate generation, SLO filtering, ranking, closest miss, managed rows, speed budget."""

from __future__ import annotations

import time

import pytest

from planner.catalog import load_model
from planner.prices import ManagedPrice
from planner.search import PlanRequest, search

SPEC = load_model("deepseek-v3.2")
CHEAP = ManagedPrice(provider="cheap", family="deepseek-v3.2", model_id="m", litellm_key=None, input_usd_per_mtok=0.01,
                     cached_input_usd_per_mtok=None, output_usd_per_mtok=0.02, context_window=None, source="test")


def test_searches_over_a_thousand_candidates_quickly():
    start = time.perf_counter()
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=5, tpot_ms=50, ttft_p95_ms=3000))
    elapsed = time.perf_counter() - start
    assert result.candidates_searched >= 1000
    assert elapsed < 10  # the 2 s budget is checked by benchmarks; this only guards against blow-ups


def test_ranked_plans_meet_the_slos_and_are_sorted_by_cost():
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=5, tpot_ms=50, ttft_p95_ms=3000,
                                      gpus=("h200", "b200")))
    assert result.best and all(c.meets_slo and c.tpot_ms <= 50 and c.ttft_p95_ms <= 3000 for c in result.best)
    costs = [c.usd_per_million_tokens for c in result.best]
    assert costs == sorted(costs)
    top = result.best[0]
    assert top.replicas * top.replica_requests_per_s >= 5
    assert top.monthly_usd == pytest.approx(top.replicas * top.deployment.gpus * top.gpu_hourly_usd * 730, rel=1e-6)


def test_nvfp4_is_only_offered_on_gpus_with_fp4_tensor_cores():
    result = search(SPEC, PlanRequest(input_len=1000, output_len=200, requests_per_s=1, weights=("nvfp4",),
                                      gpus=("h200", "b200"), top=1000))
    assert {c.deployment.gpu for c in result.best} == {"b200"}


def test_impossible_slos_explain_the_closest_miss():
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=5, tpot_ms=0.5, gpus=("h200",)))
    assert result.best == [] and result.closest_miss is not None
    assert "no deployment meets the SLOs; closest:" in result.explanation and "TPOT" in result.explanation
    assert "> 0.5 ms" in result.closest_miss.miss


def test_models_that_fit_nowhere_say_so():
    request = PlanRequest(input_len=2000, output_len=500, requests_per_s=1, gpus=("l40s",), max_model_len=10_000_000)
    result = search(SPEC, request)
    assert result.best == [] and result.candidates_fitting == 0
    assert result.explanation == "no deployment of up to 64 GPUs of l40s fits deepseek-v3.2"


def test_cheaper_managed_apis_are_listed_as_options():
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=1, gpus=("h200",)), [CHEAP])
    assert result.managed[0].provider == "cheap" and result.managed[0].cheaper_than_best_self_hosted
    days = 730 / 24
    tokens_per_day = 1 * 2500 * 86_400
    expected = (tokens_per_day * 0.8 * 0.01 + tokens_per_day * 0.2 * 0.02) / 1e6 * days
    assert result.managed[0].monthly_usd == pytest.approx(expected, abs=0.01)
