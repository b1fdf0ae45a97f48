"""KV capacity, concurrency and fits, from --gpu-memory-utilization minus weights minus the reserve."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.gpu_spec import GIB
from planner.kv_cache import kv_bytes_per_token
from planner.memory import estimate_memory, runtime_reserve_bytes
from planner.weights import weight_bytes_per_gpu


def _dep(**kw) -> Deployment:
    base = {"gpu": "h200", "gpus": 8, "tp": 8, "weights_dtype": "fp8", "kv_dtype": "fp8", "max_model_len": 163840}
    return Deployment(**{**base, **kw})


def test_kv_pool_is_utilization_times_memory_minus_weights_minus_reserve():
    spec, gpu, dep = load_model("deepseek-v3.2"), load_gpu("h200"), _dep()
    mem = estimate_memory(spec, gpu, dep, 2048, 512)
    pool = 0.9 * 143_771 * 2**20 - weight_bytes_per_gpu(spec, dep) - runtime_reserve_bytes(spec)
    assert mem.kv_cache_gib_per_gpu == pytest.approx(pool / GIB, abs=0.001)
    assert mem.kv_cache_tokens == int(pool // kv_bytes_per_token(spec, "fp8"))
    assert mem.max_concurrency == mem.kv_cache_tokens // (2048 + 512)
    assert mem.fits and mem.reason is None


def test_reserve_is_fixed_runtime_plus_prefill_activation_peak():
    assert runtime_reserve_bytes(load_model("deepseek-v3")) == 1 * GIB + 8192 * 7168 * 2 * 16


def test_deepseek_v32_does_not_fit_on_two_h100_at_any_precision():
    spec, gpu = load_model("deepseek-v3.2"), load_gpu("h100")
    for weights in ("bf16", "fp8", "int4", "nvfp4"):
        mem = estimate_memory(spec, gpu, _dep(gpu="h100", gpus=2, tp=2, weights_dtype=weights), 2048, 512)
        assert not mem.fits and "weights need" in mem.reason and mem.max_concurrency == 0


def test_one_max_model_len_sequence_must_fit_in_the_cache():
    spec, gpu = load_model("deepseek-r1-distill-llama-70b"), load_gpu("h100")
    dep = _dep(gpu="h100", gpus=2, tp=2, weights_dtype="bf16", kv_dtype="bf16", max_model_len=131072)
    mem = estimate_memory(spec, gpu, dep, 2048, 512)
    assert not mem.fits and "fewer than one --max-model-len" in mem.reason


def test_dp_ranks_each_hold_a_cache_and_tokens_sum_over_them():
    spec, gpu = load_model("deepseek-v3.2"), load_gpu("h200")
    mem = estimate_memory(spec, gpu, _dep(tp=1, dp=8, ep=8, dp_attention=True), 2048, 512)
    assert mem.kv_cache_tokens == 8 * mem.kv_tokens_per_dp_rank


def test_sglang_b200_dp_attention_observation_is_in_range():
    # sglang PR 11309: V3.2-Exp on 8 x B200, DP8 attention, fp8 KV: 975,424 tokens per DP rank with
    # SGLang's own (lower) memory fraction. Under vLLM's 0.9 the planner must give at least that many.
    spec, gpu = load_model("deepseek-v3.2-exp"), load_gpu("b200")
    mem = estimate_memory(spec, gpu, _dep(gpu="b200", tp=1, dp=8, ep=8, dp_attention=True), 2048, 512)
    assert 975_424 <= mem.kv_tokens_per_dp_rank <= 2.5 * 975_424
