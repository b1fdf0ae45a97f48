"""Prefill FLOPs and time: active linear weights per token plus causal attention, over the GPUs sharing it."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.engine import engine_profile
from planner.params import param_counts
from planner.prefill import prefill_capacity_tokens_per_s, prefill_flops, prefill_time_s

UNIT = engine_profile("vllm").model_copy(update={"prefill_compute_efficiency": 1.0, "step_overhead_s": 0.0, "comm_overlap": 1.0})


def test_dense_prefill_flops_are_two_per_weight_per_token_plus_attention():
    spec = load_model("deepseek-r1-distill-llama-8b")
    by = param_counts(spec).by_component
    body = param_counts(spec).total - by["embedding"] - by["norms"] - by["lm_head"]
    f = prefill_flops(spec, 100)
    assert f.rank_linear == 2 * 100 * body + 2 * by["lm_head"]
    assert f.attention == 32 * 32 * 4 * 128 * (100 * 101 / 2)
    assert f.expert_linear == 0 and f.indexer == 0


def test_moe_prefill_counts_top_k_experts_only():
    spec = load_model("deepseek-v3")
    f = prefill_flops(spec, 10)
    assert f.expert_linear == pytest.approx(2 * 10 * 58 * 8 * 3 * 2048 * 7168)


def test_prefill_time_divides_flops_over_tp_at_the_weights_precision():
    spec, gpu = load_model("deepseek-r1-distill-llama-8b"), load_gpu("h100")
    dep = Deployment(gpu="h100", gpus=2, tp=2, weights_dtype="fp8", kv_dtype="bf16")
    f = prefill_flops(spec, 1000)
    expected = f.rank_linear / (2 * 1978.9e12) + f.attention / (2 * 989.4e12)
    assert prefill_time_s(spec, gpu, dep, UNIT, 1000) == pytest.approx(expected)


def test_prefill_capacity_uses_every_gpu():
    spec, gpu = load_model("deepseek-r1-distill-llama-8b"), load_gpu("h100")
    one = Deployment(gpu="h100", gpus=1, weights_dtype="bf16", kv_dtype="bf16")
    four = Deployment(gpu="h100", gpus=4, dp=4, weights_dtype="bf16", kv_dtype="bf16")
    assert prefill_capacity_tokens_per_s(spec, gpu, four, UNIT, 512) == pytest.approx(
        4 * prefill_capacity_tokens_per_s(spec, gpu, one, UNIT, 512))
