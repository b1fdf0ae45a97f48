"""Decode: the time of one engine step that emits a token for each of `b` sequences on a DP rank.

A decode step is bound by the bytes it reads (weights once per step, KV cache once per sequence)
at HBM bandwidth, or by its FLOPs, whichever is larger, plus communication that is not overlapped
and fixed per-layer and per-step overheads (roofline model: Williams et al. 2009; applied to LLM
decode in e.g. "LLM Inference Unveiled", Yuan et al. 2024). Mixture-of-experts weights are read
only for experts the batch touches: with T tokens each picking k of E experts, an expert is
touched with probability 1 - (1 - k/E)^T.
"""

from __future__ import annotations

import math
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from planner.comms import allreduce_s, alltoall_s, link_bytes_per_s
from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.flops import attended_tokens, compute_dtype, decode_attention_flops
from planner.gpu_spec import GpuSpec
from planner.kv_cache import indexer_bytes_per_token_layer, kv_bytes_per_token_layer_per_gpu
from planner.model_spec import ModelSpec
from planner.params import tensor_inventory
from planner.weights import group_format, matrix_bytes, shard_fraction, stage_layer_counts

__all__ = ["StepTime", "expert_touch_fraction", "decode_step", "decode_round"]


class StepTime(BaseModel):
    """Seconds one step spends, by cause; `total_s` is what the step takes."""

    model_config = ConfigDict(frozen=True)

    memory_s: float
    compute_s: float
    comm_s: float
    overhead_s: float
    total_s: float


def expert_touch_fraction(tokens: float, top_k: int, experts: int) -> float:
    """Expected share of experts at least one of `tokens` tokens routes to: 1 - (1 - k/E)^T."""
    if experts <= 0 or tokens <= 0:
        return 0.0
    return 1.0 - (1.0 - top_k / experts) ** tokens


class _StageWeights(BaseModel):
    """One GPU's share of a stage's weights: bytes and linear parameters, experts apart."""

    model_config = ConfigDict(frozen=True)

    dense_bytes: float
    dense_linear_params: float
    expert_bytes: float
    expert_active_params: float


@lru_cache(maxsize=4096)
def _stage_weights(spec: ModelSpec, dep: Deployment, counts: tuple[tuple[str, int], ...]) -> _StageWeights:
    """Weights a decode step reads on one GPU of a stage (embedding lookups excluded)."""
    layers = dict(counts)
    dense_bytes = dense_params = expert_bytes = expert_active = 0.0
    for g in tensor_inventory(spec):
        n = layers.get(g.layers, 0)
        if not n or g.component == "embedding" or g.name == "embed_tokens+shared_head.head":
            continue
        share = shard_fraction(g, spec, dep) * n
        stored = matrix_bytes(g.rows, g.cols, group_format(g, dep.weights_dtype)) * g.copies * share
        params = g.rows * g.cols * g.copies * share
        if g.shard == "experts":
            expert_bytes += stored
            expert_active += g.active_fraction * params
        else:
            dense_bytes += stored
            if g.cols > 1:
                dense_params += params
    return _StageWeights(dense_bytes=dense_bytes, dense_linear_params=dense_params, expert_bytes=expert_bytes,
                         expert_active_params=expert_active)


def decode_step(
    spec: ModelSpec,
    gpu: GpuSpec,
    dep: Deployment,
    engine: EngineProfile,
    batch: float,
    context_tokens: float,
    counts: dict[str, int],
    tokens_per_seq: int = 1,
) -> StepTime:
    """One step of one pipeline stage (`counts` = its layers by kind) for `batch` sequences on a DP rank.

    `tokens_per_seq` > 1 verifies speculative tokens: FLOPs and activations scale with it, weight
    and KV reads do not.
    """
    tokens = batch * tokens_per_seq
    group_tokens = tokens * (dep.dp if dep.dp_attention else 1)
    touched = expert_touch_fraction(group_tokens, spec.num_experts_per_tok, spec.n_routed_experts)
    w = _stage_weights(spec, dep, tuple(sorted(counts.items())))
    weight_bytes = w.dense_bytes + w.expert_bytes * touched
    linear_flops = 2.0 * tokens * w.dense_linear_params + 2.0 * group_tokens * w.expert_active_params
    layers = counts.get("all_layers", 0) + counts.get("mtp", 0)
    heads = spec.num_attention_heads // dep.tp
    attention, indexer = decode_attention_flops(spec, context_tokens, heads)
    attention_flops = tokens * layers * (attention + indexer)
    per_layer_kv = kv_bytes_per_token_layer_per_gpu(spec, dep.kv_dtype, dep.tp)
    index_kv = indexer_bytes_per_token_layer(spec)
    kv_bytes = batch * layers * ((per_layer_kv - index_kv) * attended_tokens(spec, context_tokens) + index_kv * context_tokens)

    memory_s = (weight_bytes + kv_bytes) / (gpu.hbm_bandwidth_bytes_per_s * engine.bandwidth_efficiency)
    linear_peak = gpu.dense_flops_per_s(compute_dtype(dep.weights_dtype)) * engine.decode_compute_efficiency
    attention_peak = gpu.dense_flops_per_s("bf16") * engine.decode_compute_efficiency
    compute_s = linear_flops / linear_peak + attention_flops / attention_peak
    comm_s = _comm_s(spec, gpu, dep, tokens, counts) * (1.0 - engine.comm_overlap)
    overhead_s = layers * engine.layer_overhead_s
    total = max(memory_s, compute_s) + comm_s + overhead_s
    return StepTime(memory_s=memory_s, compute_s=compute_s, comm_s=comm_s, overhead_s=overhead_s, total_s=total)


def _comm_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, tokens: float, counts: dict[str, int]) -> float:
    """TP all-reduces (after attention and after the FFN) and MoE dispatch/combine for one stage."""
    layers = counts.get("all_layers", 0) + counts.get("mtp", 0)
    moe_layers = counts.get("moe_layers", 0) + counts.get("mtp", 0) * int(spec.is_moe)
    hidden_bytes = tokens * spec.hidden_size * 2
    total = 2 * layers * allreduce_s(hidden_bytes, dep.tp, gpu, dep)
    if moe_layers and dep.moe_group > dep.tp:
        if dep.ep > 1:
            # dispatch in fp8 (1 byte) and combine in bf16 (2 bytes) of top-k copies of each token
            per_layer = alltoall_s(tokens * spec.num_experts_per_tok * spec.hidden_size * 3, dep.ep, gpu, dep)
            total += moe_layers * (per_layer + link_bytes_per_s(gpu, dep.ep, dep)[1])
        else:
            total += moe_layers * allreduce_s(hidden_bytes * dep.dp, dep.moe_group, gpu, dep)
    return total


def decode_round(
    spec: ModelSpec,
    gpu: GpuSpec,
    dep: Deployment,
    engine: EngineProfile,
    batch: float,
    context_tokens: float,
    tokens_per_seq: int = 1,
    frontend: bool = True,
) -> float:
    """Seconds for every sequence of a DP rank to advance one step through all pipeline stages.

    With pipeline parallelism the rank's batch is split into `pp` micro-batches that keep every
    stage busy (vLLM's virtual engines); one sequence's step crosses all stages in turn.
    With `frontend`, the round also waits for the single API server to stream every DP rank's
    tokens; decode-only instances of a disaggregated deployment hand tokens to a separate tier.
    """
    micro = batch / max(1, min(dep.pp, math.ceil(batch)))  # fewer sequences than stages: no splitting
    total = engine.step_overhead_s + batch * engine.seq_overhead_s
    for counts in stage_layer_counts(spec, dep.pp, mtp_loaded=False):
        total += decode_step(spec, gpu, dep, engine, micro, context_tokens, counts, tokens_per_seq).total_s
    if dep.pp > 1:
        bandwidth, latency = link_bytes_per_s(gpu, dep.gpus, dep)
        total += (dep.pp - 1) * (latency + micro * spec.hidden_size * 2 / bandwidth)
    # one API server streams the tokens of every DP rank; it cannot emit faster than its CPU allows
    ranks_per_server = dep.dp if dep.dp_attention else 1  # independent DP replicas each run their own server
    streaming = batch * ranks_per_server * engine.frontend_token_s if frontend else 0.0
    return max(total, streaming)
