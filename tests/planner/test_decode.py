"""Decode step time: bytes over bandwidth vs FLOPs over peak, experts touched, communication, overheads."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.comms import INTRA_NODE_LATENCY_S
from planner.decode import decode_round, decode_step, expert_touch_fraction
from planner.deployment import Deployment
from planner.engine import engine_profile
from planner.params import param_counts
from planner.weights import stage_layer_counts

IDEAL = engine_profile("vllm").model_copy(update={
    "bandwidth_efficiency": 1.0, "decode_compute_efficiency": 1.0, "layer_overhead_s": 0.0, "step_overhead_s": 0.0,
    "seq_overhead_s": 0.0, "frontend_token_s": 0.0, "comm_overlap": 0.0,
})


def test_expert_touch_fraction_is_one_minus_the_chance_no_token_picks_it():
    assert expert_touch_fraction(1, 8, 256) == pytest.approx(8 / 256)
    assert expert_touch_fraction(100, 8, 256) == pytest.approx(1 - (1 - 8 / 256) ** 100)
    assert expert_touch_fraction(0, 8, 256) == 0.0


def test_dense_decode_reads_all_weights_once_and_the_kv_cache_per_sequence():
    spec, gpu = load_model("deepseek-r1-distill-llama-8b"), load_gpu("h100")
    dep = Deployment(gpu="h100", gpus=1, weights_dtype="bf16", kv_dtype="bf16")
    counts = stage_layer_counts(spec, 1, False)[0]
    step = decode_step(spec, gpu, dep, IDEAL, batch=2, context_tokens=1000, counts=counts)
    by = param_counts(spec).by_component
    weights = (param_counts(spec).total - by["embedding"]) * 2
    kv = 2 * 32 * 1000 * (2 * 8 * 128 * 2)
    assert step.memory_s == pytest.approx((weights + kv) / 3.35e12)
    linear = 2 * 2 * (param_counts(spec).total - by["embedding"] - by["norms"] - 32 * 0)
    attention = 2 * 32 * 32 * 4 * 128 * 1000
    assert step.compute_s == pytest.approx(linear / 989.4e12 + attention / 989.4e12, rel=1e-3)
    assert step.comm_s == 0.0 and step.total_s == pytest.approx(max(step.memory_s, step.compute_s))


def test_moe_decode_reads_only_touched_experts():
    spec, gpu = load_model("deepseek-v3"), load_gpu("h200")
    dep = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    counts = stage_layer_counts(spec, 1, False)[0]
    one = decode_step(spec, gpu, dep, IDEAL, 1, 1, counts).memory_s
    many = decode_step(spec, gpu, dep, IDEAL, 512, 1, counts).memory_s
    # at batch 1 about 8 of 256 experts per layer are read; at 512 nearly all of them
    assert many / one > 10


def test_tp_all_reduce_is_two_ring_all_reduces_per_layer():
    spec, gpu = load_model("deepseek-r1-distill-llama-70b"), load_gpu("h100")
    dep = Deployment(gpu="h100", gpus=8, tp=8, weights_dtype="bf16", kv_dtype="bf16")
    counts = stage_layer_counts(spec, 1, False)[0]
    step = decode_step(spec, gpu, dep, IDEAL, 4, 100, counts)
    per = INTRA_NODE_LATENCY_S + 4 * 8192 * 2 * 2 * 7 / 8 / 450e9
    assert step.comm_s == pytest.approx(2 * 80 * per)


def test_round_adds_step_and_sequence_overheads_and_waits_for_the_frontend():
    spec, gpu = load_model("deepseek-r1-distill-llama-8b"), load_gpu("h100")
    dep = Deployment(gpu="h100", gpus=1, weights_dtype="bf16", kv_dtype="bf16")
    engine = IDEAL.model_copy(update={"step_overhead_s": 1e-3, "seq_overhead_s": 1e-5})
    counts = stage_layer_counts(spec, 1, False)[0]
    step = decode_step(spec, gpu, dep, engine, 10, 500, counts).total_s
    assert decode_round(spec, gpu, dep, engine, 10, 500) == pytest.approx(step + 1e-3 + 10 * 1e-5)
    slow_frontend = engine.model_copy(update={"frontend_token_s": 1.0})
    assert decode_round(spec, gpu, dep, slow_frontend, 10, 500) == pytest.approx(10.0)
    assert decode_round(spec, gpu, dep, slow_frontend, 10, 500, frontend=False) == pytest.approx(step + 1e-3 + 1e-4)
