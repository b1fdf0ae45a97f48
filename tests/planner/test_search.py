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
    assert result.explanation == "no deployment of up to 144 GPUs of l40s fits deepseek-v3.2"


def test_cheaper_managed_apis_are_listed_as_options():
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=1, gpus=("h200",)), [CHEAP])
    assert result.managed[0].provider == "cheap" and result.managed[0].cheaper_than_best_self_hosted
    days = 730 / 24
    tokens_per_day = 1 * 2500 * 86_400
    expected = (tokens_per_day * 0.8 * 0.01 + tokens_per_day * 0.2 * 0.02) / 1e6 * days
    assert result.managed[0].monthly_usd == pytest.approx(expected, abs=0.01)


def test_wide_ep_candidates_span_nodes_with_eplb_redundant_experts_and_overlap():
    from planner.catalog import load_gpu
    from planner.search import candidate_deployments

    deps = list(candidate_deployments(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=1, weights=("fp8",)),
                                      load_gpu("h800")))
    wide = [d for d in deps if d.ep_spans_nodes]
    assert {d.gpus for d in wide} >= {32, 72, 144}
    assert all(d.eplb and d.redundant_experts == 32 and d.tbo and d.dp_attention for d in wide)
    assert not [d for d in deps if d.dp > 1 and not d.dp_attention]  # replicas are counted, not listed


def test_disaggregated_plans_size_both_pools_for_the_traffic():
    result = search(SPEC, PlanRequest(input_len=2000, output_len=500, requests_per_s=50, tpot_ms=60, ttft_p95_ms=3000,
                                      gpus=("h200",), top=1000))
    split = [c for c in result.best if c.mode == "disaggregated"]
    assert split
    c = split[0]
    assert c.replicas * c.replica_requests_per_s >= 50 and c.prefill_instances * c.prefill_instance_requests_per_s >= 50
    assert c.total_gpus == c.replicas * c.deployment.gpus + c.prefill_instances * c.prefill_deployment.gpus
    assert c.ttft_p95_ms <= 3000 and c.tpot_ms <= 60
    assert result.candidates_searched > 5000


def test_the_cost_frontier_never_costs_more_per_token_as_traffic_grows_tenfold():
    from planner.search import cost_frontier

    request = PlanRequest(input_len=2000, output_len=500, requests_per_s=1, tpot_ms=60, ttft_p95_ms=5000, gpus=("h200",))
    low, mid, high = cost_frontier(SPEC, request, [1e7, 1e9, 1e11])
    assert low.usd_per_million_tokens > mid.usd_per_million_tokens >= high.usd_per_million_tokens * 0.99
    assert high.total_gpus > mid.total_gpus


def test_break_even_marks_where_self_hosting_beats_each_provider():
    from planner.breakeven import break_even

    dear = CHEAP.model_copy(update={"provider": "dear", "input_usd_per_mtok": 50.0, "output_usd_per_mtok": 100.0})
    request = PlanRequest(input_len=2000, output_len=500, requests_per_s=1, tpot_ms=60, ttft_p95_ms=5000, gpus=("h200",))
    report = break_even(SPEC, request, [CHEAP, dear])
    by = {p.provider: p for p in report.providers}
    assert by["cheap"].break_even_tokens_per_day is None  # 0.01 / 0.02 USD per Mtok: never
    assert 1e6 < by["dear"].break_even_tokens_per_day < 1e10
    curve = report.cost_curve()
    assert curve.break_even_tokens_per_day["dear"] == by["dear"].break_even_tokens_per_day
