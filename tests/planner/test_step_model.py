"""Step model: per-operation rooflines, touched experts, communication, overlap and fixed costs."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.comms import INTRA_NODE_LATENCY_S
from planner.deployment import Deployment
from planner.engine import engine_profile
from planner.layout import build_deployment
from planner.params import param_counts
from planner.step_model import GEMM_TILE_TOKENS, StepShape, decode_step_s, prefill_step_s, step_time

IDEAL = engine_profile("vllm").model_copy(update={
    "bandwidth_efficiency": 1.0, "gemm_efficiency": 1.0, "attention_efficiency": 1.0, "layer_overhead_s": 0.0,
    "step_overhead_s": 0.0, "seq_overhead_s": 0.0, "frontend_token_s": 0.0, "comm_overlap": 0.0,
})
V3, V32, R1_8B = load_model("deepseek-v3"), load_model("deepseek-v3.2"), load_model("deepseek-r1-distill-llama-8b")
H100, H200 = load_gpu("h100"), load_gpu("h200")


def test_dense_decode_reads_all_weights_once_and_the_kv_cache_per_sequence():
    dep = Deployment(gpu="h100", gpus=1, weights_dtype="bf16", kv_dtype="bf16")
    step = step_time(R1_8B, H100, dep, IDEAL, StepShape(decode_seqs=2, decode_context_tokens=1000))
    by = param_counts(R1_8B).by_component
    weights = (param_counts(R1_8B).total - by["embedding"] - by["norms"]) * 2
    kv = 2 * 32 * 1000 * (2 * 8 * 128 * 2)
    assert step.gemm_s == pytest.approx(weights / 3.35e12, rel=1e-3)
    assert step.attention_s == pytest.approx(kv / 3.35e12, rel=1e-3)
    assert step.comm_s == 0.0 and step.total_s == pytest.approx(step.gemm_s + step.attention_s, rel=1e-6)


def test_moe_decode_reads_only_touched_experts():
    dep = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    one = step_time(V3, H200, dep, IDEAL, StepShape(decode_seqs=1, decode_context_tokens=1)).moe_s
    many = step_time(V3, H200, dep, IDEAL, StepShape(decode_seqs=512, decode_context_tokens=1)).moe_s
    assert many / one > 10  # at batch 1 about 8 of 256 experts per layer are read; at 512 nearly all


def test_a_step_is_the_sum_of_per_operation_rooflines_not_one_max():
    """A mixed step pays for compute-bound prefill GEMMs and memory-bound decode attention at once."""
    dep = Deployment(gpu="h200", gpus=8, tp=1, dp=8, ep=8, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8")
    decode = StepShape(decode_seqs=64, decode_context_tokens=8000)
    prefill = StepShape(prefill_tokens=4096, prefill_attended_tokens=2048)
    mixed = StepShape(decode_seqs=64, decode_context_tokens=8000, prefill_tokens=4096, prefill_attended_tokens=2048)
    d, p, m = (step_time(V32, H200, dep, IDEAL, s).total_s for s in (decode, prefill, mixed))
    assert max(d, p) < m < d + p  # weights are read once for both, but attention adds up


def test_small_gemms_cost_a_whole_tile_of_compute():
    dep = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    compute_bound = IDEAL.model_copy(update={"bandwidth_efficiency": 1e6})
    one = step_time(V3, H200, dep, compute_bound, StepShape(decode_seqs=1, decode_context_tokens=1)).gemm_s
    tile = step_time(V3, H200, dep, compute_bound, StepShape(decode_seqs=GEMM_TILE_TOKENS, decode_context_tokens=1)).gemm_s
    assert one == pytest.approx(tile, rel=1e-3)


def test_tp_all_reduce_is_two_ring_all_reduces_per_layer():
    spec = load_model("deepseek-r1-distill-llama-70b")
    dep = Deployment(gpu="h100", gpus=8, tp=8, weights_dtype="bf16", kv_dtype="bf16")
    step = step_time(spec, H100, dep, IDEAL, StepShape(decode_seqs=4, decode_context_tokens=100))
    per = INTRA_NODE_LATENCY_S + 4 * 8192 * 2 * 2 * 7 / 8 / 450e9
    assert step.comm_s == pytest.approx(2 * 80 * per)


def test_tp_across_nodes_pays_the_cross_node_latency_twice_per_layer():
    one = Deployment(gpu="h100", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    two = Deployment(gpu="h100", gpus=16, tp=16, weights_dtype="fp8", kv_dtype="bf16", nodes=2)
    shape = StepShape(decode_seqs=1, decode_context_tokens=1000)
    intra, inter = (step_time(V3, H100, d, IDEAL, shape).comm_s for d in (one, two))
    assert inter > 3 * intra and inter > 2 * 61 * 40e-6


def test_wide_ep_pays_dispatch_and_combine_that_two_batch_overlap_hides():
    dep = Deployment(gpu="h800", gpus=128, tp=1, dp=128, ep=128, dp_attention=True, weights_dtype="fp8",
                     kv_dtype="bf16", nodes=16, redundant_experts=32, eplb=True)
    h800 = load_gpu("h800")
    shape = StepShape(decode_seqs=128, decode_context_tokens=4096)
    plain = step_time(V3, h800, dep, IDEAL, shape)
    overlapped = step_time(V3, h800, dep.model_copy(update={"tbo": True}), IDEAL, shape)
    assert plain.comm_s > 0.2 * plain.total_s
    assert overlapped.total_s < plain.total_s and overlapped.comm_s < plain.comm_s


def test_fixed_costs_dominate_one_sequence_and_scale_per_layer_step_and_sequence():
    dep = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    engine = IDEAL.model_copy(update={"layer_overhead_s": 100e-6, "step_overhead_s": 1e-3, "seq_overhead_s": 1e-5})
    step = step_time(V3, H200, dep, engine, StepShape(decode_seqs=10, decode_context_tokens=500))
    assert step.overhead_s == pytest.approx(61 * 100e-6 + 1e-3 + 10 * 1e-5)


def test_the_api_server_caps_the_step_of_every_rank_it_streams():
    dep = Deployment(gpu="h200", gpus=8, tp=1, dp=8, ep=8, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8")
    slow = IDEAL.model_copy(update={"frontend_token_s": 1e-3})
    assert decode_step_s(V32, H200, dep, slow, 100, 1000) == pytest.approx(100 * 8 * 1e-3)
    assert decode_step_s(V32, H200, dep, slow, 100, 1000, frontend=False) < 0.1


def test_dsa_kernels_pad_query_heads_so_tp8_attention_costs_like_tp2():
    tp8 = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="fp8")
    tp2 = Deployment(gpu="h200", gpus=2, tp=2, weights_dtype="int4", kv_dtype="fp8")
    compute_bound = IDEAL.model_copy(update={"bandwidth_efficiency": 1e6})
    shape = StepShape(decode_seqs=64, decode_context_tokens=4000)
    a8, a2 = (step_time(V32, H200, d, compute_bound, shape).attention_s for d in (tp8, tp2))
    assert a8 == pytest.approx(a2, rel=1e-6)


def test_prefill_of_a_longer_prompt_takes_longer_and_mtp_adds_draft_steps():
    dep = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
    vllm = engine_profile("vllm")
    assert prefill_step_s(V3, H200, dep, vllm, 8000) > 2 * prefill_step_s(V3, H200, dep, vllm, 2000)
    plain = step_time(V3, H200, dep, vllm, StepShape(decode_seqs=4, decode_context_tokens=1000))
    mtp = step_time(V3, H200, dep, vllm, StepShape(decode_seqs=4, decode_context_tokens=1000, draft_tokens=2))
    assert mtp.draft_s > 0 and mtp.total_s > plain.total_s


def test_overlap_gain_is_the_step_time_difference_with_and_without_tbo():
    from planner.step_model import overlap_gain_s

    spec, gpu, engine = load_model("deepseek-v3.2"), load_gpu("h200"), engine_profile("sglang")
    for gpus in (16, 72):
        on = build_deployment(spec, gpu, gpus, 1, None, gpus, ep=gpus, dp_attention=True, redundant_experts=32,
                              eplb=True, tbo=True, weights_dtype="fp8", kv_dtype="fp8", max_model_len=32768)
        off = on.model_copy(update={"tbo": False})
        for shape in (StepShape(decode_seqs=64, decode_context_tokens=2250),
                      StepShape(prefill_tokens=16384, prefill_attended_tokens=1000),
                      StepShape(decode_seqs=8, decode_context_tokens=2000, prefill_tokens=4096, prefill_attended_tokens=1000)):
            diff = step_time(spec, gpu, on, engine, shape, frontend=False).total_s - step_time(spec, gpu, off, engine, shape, frontend=False).total_s
            assert overlap_gain_s(spec, gpu, on, engine, shape) == pytest.approx(diff, rel=1e-9, abs=1e-12)
