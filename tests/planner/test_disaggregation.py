"""Prefill/decode disaggregation: pool capacity, KV hand-off, end-to-end TTFT, bottleneck, and the estimate keys."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.disaggregation import estimate_disaggregated, kv_transfer_per_request_s, prefill_rank_tokens_per_s
from planner.engine import engine_profile
from planner.estimate import EstimateRequest, PrefillPoolRequest, run_estimate
from planner.kv_cache import kv_bytes_per_token
from planner.memory import estimate_memory

SPEC, GPU = load_model("deepseek-v3.2"), load_gpu("h200")
SGLANG = engine_profile("sglang")
PREFILL = Deployment(gpu="h200", gpus=8, tp=1, dp=8, ep=8, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8",
                     max_model_len=8192)
DECODE = Deployment(gpu="h200", gpus=16, tp=1, dp=16, ep=16, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8",
                    max_model_len=8192, nodes=2, eplb=True, redundant_experts=32, tbo=True)


def _kv_tokens() -> int:
    return estimate_memory(SPEC, GPU, DECODE, 2000, 500).kv_tokens_per_dp_rank


def test_kv_hand_off_is_the_prompts_cache_over_the_prefill_gpus_nic():
    t = kv_transfer_per_request_s(SPEC, GPU, PREFILL, "fp8", 2000, same_node=False)
    assert t == pytest.approx(40e-6 + kv_bytes_per_token(SPEC, "fp8") * 2000 / 50e9)
    assert kv_transfer_per_request_s(SPEC, GPU, PREFILL, "fp8", 2000, same_node=True) < t


def test_prefill_pool_rate_grows_with_its_batch_until_compute_bound():
    small, _ = prefill_rank_tokens_per_s(SPEC, GPU, PREFILL, SGLANG, 2000, batch_tokens=512)
    large, _ = prefill_rank_tokens_per_s(SPEC, GPU, PREFILL, SGLANG, 2000, batch_tokens=16384)
    assert large > small


def test_more_prefill_instances_move_the_bottleneck_to_decode():
    kv = _kv_tokens()
    one = estimate_disaggregated(SPEC, GPU, PREFILL, 1, GPU, DECODE, 1, SGLANG, 4000, 300, kv, concurrency=4000)
    many = estimate_disaggregated(SPEC, GPU, PREFILL, 32, GPU, DECODE, 1, SGLANG, 4000, 300, kv, concurrency=4000)
    assert one.bottleneck == "prefill" and many.bottleneck == "decode"
    assert many.requests_per_s > one.requests_per_s and many.ttft_ms < one.ttft_ms
    assert many.ratio == "32P1D" and many.gpus == 32 * 8 + 16


def test_ttft_adds_prefill_transfer_and_one_decode_step():
    result = estimate_disaggregated(SPEC, GPU, PREFILL, 2, GPU, DECODE, 1, SGLANG, 2000, 300, _kv_tokens(), rps=0.5)
    assert result.ttft_ms > result.kv_transfer_ms + result.decode.step_ms
    assert result.requests_per_s == pytest.approx(0.5) and not result.overloaded


def test_estimate_reports_a_disaggregated_deployment_under_new_keys_only():
    request = EstimateRequest(gpus=16, tp=1, dp=16, ep=16, dp_attention=True, max_model_len=8192, engine="sglang",
                              concurrency=1000, prefill_pool=PrefillPoolRequest(gpus=8, tp=1, dp=8, ep=8, dp_attention=True))
    report = run_estimate(request)
    assert report.disaggregation is not None and report.disaggregation.gpus == 24
    assert report.performance.tpot_ms == report.disaggregation.tpot_ms
    assert report.cost.monthly_usd == pytest.approx(24 * 3.59 * 730, rel=1e-3)
    plain = run_estimate(EstimateRequest(gpus=8))
    assert plain.disaggregation is None and plain.workload.role == "aggregated"


def test_a_prefill_pool_alone_reports_prompt_throughput():
    report = run_estimate(EstimateRequest(gpus=8, tp=1, dp=8, ep=8, dp_attention=True, max_model_len=8192, role="prefill"))
    perf = report.performance
    assert perf.tpot_ms == 0 and perf.prefill_tokens_per_s_per_gpu == pytest.approx(perf.prefill_tokens_per_s / 8, rel=1e-3)


def test_one_pool_is_never_priced_against_a_managed_api():
    for role in ("prefill", "decode"):
        report = run_estimate(EstimateRequest(gpus=8, tp=1, dp=8, ep=8, dp_attention=True, max_model_len=8192, role=role))
        assert report.cost.managed == []
    assert run_estimate(EstimateRequest(gpus=8, max_model_len=8192)).cost.managed


def test_prefix_cache_hits_lighten_the_prefill_pool():
    base = dict(gpus=8, tp=1, dp=8, ep=8, dp_attention=True, max_model_len=8192, role="prefill", input_len=4000)
    cold = run_estimate(EstimateRequest(**base)).performance
    warm = run_estimate(EstimateRequest(**base, cache_hit_rate=0.5)).performance
    assert warm.max_requests_per_s > 1.5 * cold.max_requests_per_s
    assert warm.ttft_ms < cold.ttft_ms
