"""Continuous batching steady state: concurrency, arrival rate, overload, queueing, MTP."""

from __future__ import annotations

import pytest

from planner.batching import RankModel, Workload, estimate_performance
from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.engine import engine_profile

SPEC, GPU = load_model("deepseek-v3.2"), load_gpu("h200")
DEP = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="fp8")
VLLM = engine_profile("vllm")
KV_TOKENS = 900_000


def test_steady_state_obeys_littles_law_and_the_prefill_share():
    rank = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500))
    p = rank.at_batch(64)
    assert p.requests_per_s == pytest.approx(64 / (p.ttft_s + 499 * p.tpot_s))
    assert p.prefill_share == pytest.approx(p.requests_per_s * 2000 / rank.prefill_capacity, abs=1e-6)
    assert p.tpot_s == pytest.approx(rank.raw_tpot(64)[0] / (1 - p.prefill_share))


def test_more_concurrency_raises_throughput_and_tpot():
    low = estimate_performance(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500, concurrency=8), KV_TOKENS)
    high = estimate_performance(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500, concurrency=128), KV_TOKENS)
    assert high.output_tokens_per_s > low.output_tokens_per_s and high.tpot_ms > low.tpot_ms
    assert low.output_tokens_per_s_per_gpu == pytest.approx(low.output_tokens_per_s / 8, rel=1e-3)


def test_arrival_rate_finds_the_batch_that_serves_it():
    perf = estimate_performance(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500, rps=1.0), KV_TOKENS)
    assert perf.requests_per_s == pytest.approx(1.0, rel=1e-3) and not perf.overloaded


def test_offered_load_above_capacity_is_reported_not_computed():
    perf = estimate_performance(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500, rps=1000.0), KV_TOKENS)
    assert perf.overloaded and "exceeds capacity" in perf.note
    assert perf.requests_per_s == pytest.approx(perf.max_requests_per_s)


def test_concurrency_above_the_batch_cap_queues():
    perf = estimate_performance(SPEC, GPU, DEP, VLLM, Workload(input_len=2000, output_len=500, concurrency=5000), KV_TOKENS)
    assert perf.running_batch_per_dp_rank == perf.max_batch_per_dp_rank < 5000 and "queue" in perf.note


def test_decode_pools_have_no_prefill_interference():
    shared = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=8000, output_len=200)).at_batch(64)
    decode_only = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=8000, output_len=200, disaggregated_decode=True)).at_batch(64)
    assert decode_only.prefill_share == 0.0 and decode_only.tpot_s < shared.tpot_s


def test_mtp_divides_the_step_by_accepted_tokens():
    plain = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=1000, output_len=100))
    mtp = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=1000, output_len=100, mtp=1))
    tpot, step = mtp.raw_tpot(1)
    assert tpot == pytest.approx(step / 1.92)
    assert tpot < plain.raw_tpot(1)[0]
    measured = RankModel(SPEC, GPU, DEP, VLLM, Workload(input_len=1000, output_len=100, mtp=1, mtp_accepted_tokens=1.5))
    assert measured.raw_tpot(1)[0] == pytest.approx(step / 1.5)


def test_a_benchmark_replay_reports_its_prompts():
    load = Workload(input_len=500, output_len=50, concurrency=8, benchmark_prompts=32)
    perf = estimate_performance(SPEC, GPU, DEP, VLLM, load, KV_TOKENS)
    assert perf.replayed_prompts == 32 and perf.ttft_ms > 0 and perf.tpot_ms > 0
