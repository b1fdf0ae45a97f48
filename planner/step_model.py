"""The time of one engine step on one DP rank: decode, prefill, or both in the same forward pass.

A step runs every layer once for all the tokens scheduled in it: `decode_seqs` sequences emitting
one token each (plus MTP tokens to verify) and `prefill_tokens` prompt tokens (chunked prefill, or a
prefill batch). Per layer and per GPU, each operation is a roofline of its own, max(bytes / achieved
bandwidth, FLOPs / achieved peak) (Williams et al. 2009), summed over operations rather than taking
one max over the whole step, because a mixed step has compute-bound prefill GEMMs and memory-bound
decode attention at the same time (the op-level decomposition NVIDIA's AIConfigurator uses, there
from measured kernel tables, here from the roofline):

- dense GEMMs (attention projections, dense FFN, shared expert, DSA indexer projections): weights
  read once per step, 2 x tokens x parameters FLOPs, tokens padded to the tensor-core tile
  (`GEMM_TILE_TOKENS`);
- routed experts (planner.experts): only touched experts' weights are read; the busiest GPU of the
  MoE group computes its share of the group's tokens times the load imbalance; each touched expert's
  GEMM is padded to a tile;
- attention: decode reads each sequence's KV cache (DSA: `index_topk` latent entries plus every
  indexer key) and computes over it; prefill is FLOPs over the causal pairs (planner.flops). DSA's
  sparse MLA kernels pad query heads to `DSA_HEAD_BLOCK` per GPU;
- communication (planner.comms): two TP all-reduces per layer, and MoE dispatch/combine when the
  experts span more GPUs than the attention group. Without two-batch overlap only `comm_overlap`
  of it hides behind compute; with it (Deployment.tbo) each half-batch's communication runs under
  the other's compute, so a layer costs 2 x max(compute, communication) of half the batch;
- fixed costs: per layer (kernel launches and small ops CUDA graphs do not remove, collective
  latency is in communication), per step (scheduler, sampling, host sync) and per sequence.

With pipeline parallelism a DP rank's batch is split into micro-batches that keep every stage busy;
with MTP the draft module runs `draft_tokens` times per step for the decoding sequences. One API
server streams the tokens of every DP rank it fronts and caps the step from below.

This module is the planner's public timing interface (see ARCHITECTURE.md): `step_time` for any
mix, `decode_step_s` and `prefill_step_s` for the pure cases; planner.scheduler and planner.batching
build TTFT, TPOT and throughput from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from planner.comms import allreduce_s, link_bytes_per_s, moe_dispatch_combine_s
from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.experts import expert_load_imbalance, expert_touch_fraction, local_experts
from planner.flops import attended_tokens, compute_dtype, decode_attention_flops
from planner.gpu_spec import GpuSpec
from planner.kv_cache import indexer_bytes_per_token_layer, kv_bytes_per_token_layer_per_gpu
from planner.model_spec import ModelSpec
from planner.params import tensor_inventory
from planner.weights import group_format, matrix_bytes, shard_fraction, stage_layer_counts

__all__ = ["StepShape", "StepTime", "step_time", "decode_step_s", "prefill_step_s", "overlap_gain_s",
           "GEMM_TILE_TOKENS", "DSA_HEAD_BLOCK"]

GEMM_TILE_TOKENS = 16
"""Rows of the smallest GEMM tile the engines' decode kernels use: vLLM's tuned fused-MoE and
block-FP8 GEMM configs take BLOCK_SIZE_M = 16 for small batches (vllm/model_executor/layers/fused_moe/
configs/*H200*fp8*.json), so a GEMM over fewer tokens (per expert, for routed experts) computes 16 rows."""

DSA_HEAD_BLOCK = 64
"""Query heads per block in DSA's sparse MLA kernels (FlashMLA sparse). vLLM's DeepSeek-V3.2-Exp
recipe: "The kernels are mainly optimized for TP=1 ... recommended to run this model under EP/DP
mode" (vllm-project/recipes DeepSeek/DeepSeek-V3_2-Exp.md, retrieved 2026-12-04): under TP8 each GPU
has 16 of the 128 heads and the kernel still computes a block of 64."""


class StepShape(BaseModel):
    """What one step of one DP rank processes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decode_seqs: float = Field(default=0.0, ge=0)
    """Sequences that emit a token in this step."""
    decode_context_tokens: float = Field(default=0.0, ge=0)
    """Mean tokens already in those sequences' KV cache."""
    draft_tokens: int = Field(default=0, ge=0)
    """MTP draft tokens verified per decoding sequence (and drafted for the next step)."""
    prefill_tokens: float = Field(default=0.0, ge=0)
    """Prompt tokens processed in this step (one chunk, or several prompts of a prefill batch)."""
    prefill_attended_tokens: float = Field(default=0.0, ge=0)
    """Mean earlier tokens each prefill token attends to (its chunk's prefix plus half the chunk)."""


class StepTime(BaseModel):
    """Seconds of one step by cause; `total_s` is what the step takes."""

    model_config = ConfigDict(frozen=True)

    gemm_s: float
    moe_s: float
    attention_s: float
    comm_s: float
    overhead_s: float
    draft_s: float
    frontend_s: float
    total_s: float

    @property
    def compute_s(self) -> float:
        return self.gemm_s + self.moe_s + self.attention_s


@dataclass(frozen=True, slots=True)
class _LayerWeights:
    """One GPU's share of one decoder layer: dense weights, and one local expert slice."""

    dense_bytes: float
    dense_params: float
    """Linear parameters in the deployment's compute precision."""
    dense_fp8_params: float
    """Linear parameters kept in FP8 blocks under NVFP4 weights (attention projections), at FP8 peak."""
    expert_bytes: float
    expert_params: float
    moe: bool


@dataclass(frozen=True, slots=True)
class _Stage:
    """A pipeline stage: how many layers of each kind it holds, and whether it carries the lm_head."""

    dense_layers: int
    moe_layers: int
    lm_head: bool


@dataclass(frozen=True, slots=True)
class _Profile:
    dense: _LayerWeights
    moe: _LayerWeights
    mtp: _LayerWeights
    lm_head_bytes: float
    lm_head_params: float
    stages: tuple[_Stage, ...]
    local_experts: int
    kv_bytes_layer: float
    index_bytes_layer: float
    heads: int


def _layer_weights(spec: ModelSpec, dep: Deployment, kinds: frozenset[str], moe: bool) -> _LayerWeights:
    dense_bytes = dense_params = dense_fp8 = expert_bytes = expert_params = 0.0
    for g in tensor_inventory(spec):
        if g.layers not in kinds or g.component == "embedding" or g.name == "embed_tokens+shared_head.head":
            continue
        fmt = group_format(g, dep.weights_dtype)
        if g.shard == "experts":
            per_expert = g.copies / spec.n_routed_experts
            expert_bytes += matrix_bytes(g.rows, g.cols, fmt) * per_expert / dep.moe_tp
            expert_params += g.rows * g.cols * per_expert / dep.moe_tp
            continue
        share = shard_fraction(g, spec, dep)
        dense_bytes += matrix_bytes(g.rows, g.cols, fmt) * g.copies * share
        if g.cols > 1:
            params = g.rows * g.cols * g.copies * share
            if fmt == "fp8" and dep.weights_dtype == "nvfp4":
                dense_fp8 += params
            else:
                dense_params += params
    return _LayerWeights(dense_bytes, dense_params, dense_fp8, expert_bytes, expert_params, moe)


@lru_cache(maxsize=8192)
def _profile(spec: ModelSpec, dep: Deployment) -> _Profile:
    lm_bytes = lm_params = 0.0
    for g in tensor_inventory(spec):
        if g.component == "lm_head" or (spec.tie_word_embeddings and g.component == "embedding"):
            lm_bytes += matrix_bytes(g.rows, g.cols, "bf16") / dep.tp
            lm_params += g.rows * g.cols / dep.tp
    stages = tuple(
        _Stage(dense_layers=c["dense_layers"], moe_layers=c["moe_layers"], lm_head=bool(c["last_stage"]))
        for c in stage_layer_counts(spec, dep.pp, mtp_loaded=False)
    )
    heads = max(1, spec.num_attention_heads // dep.tp)
    if spec.has_dsa:
        heads = max(heads, DSA_HEAD_BLOCK)
    return _Profile(
        dense=_layer_weights(spec, dep, frozenset({"all_layers", "dense_layers"}), moe=False),
        moe=_layer_weights(spec, dep, frozenset({"all_layers", "moe_layers"}), moe=spec.is_moe),
        mtp=_layer_weights(spec, dep, frozenset({"mtp"}), moe=spec.is_moe),
        lm_head_bytes=lm_bytes, lm_head_params=lm_params, stages=stages, local_experts=local_experts(spec, dep),
        kv_bytes_layer=kv_bytes_per_token_layer_per_gpu(spec, dep.kv_dtype, dep.tp),
        index_bytes_layer=indexer_bytes_per_token_layer(spec), heads=heads,
    )


def _roofline(bytes_: float, flops: float, bandwidth: float, peak: float) -> float:
    return max(bytes_ / bandwidth, flops / peak if peak else 0.0)


def _padded(tokens: float) -> float:
    return math.ceil(tokens / GEMM_TILE_TOKENS) * GEMM_TILE_TOKENS if tokens > 0 else 0.0


class _Rates:
    """Achieved bandwidth and peaks for one GPU, engine and weight format."""

    __slots__ = ("bandwidth", "expert_bandwidth", "gemm_peak", "fp8_peak", "attention_peak", "indexer_peak")

    def __init__(self, gpu: GpuSpec, dep: Deployment, engine: EngineProfile):
        self.bandwidth = gpu.hbm_bandwidth_bytes_per_s * engine.bandwidth_efficiency
        self.expert_bandwidth = self.bandwidth
        self.gemm_peak = gpu.dense_flops_per_s(compute_dtype(dep.weights_dtype)) * engine.gemm_efficiency
        self.fp8_peak = gpu.dense_flops_per_s("fp8") * engine.gemm_efficiency
        self.attention_peak = gpu.dense_flops_per_s("bf16") * engine.attention_efficiency
        self.indexer_peak = gpu.dense_flops_per_s("fp8") * engine.attention_efficiency


def _layer_parts(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, p: _Profile, w: _LayerWeights, r: _Rates,
                 shape: StepShape, scale: float) -> tuple[float, float, float, float]:
    """(gemm, moe, attention, communication) seconds of one layer for `scale` x the step's tokens."""
    decode_seqs = shape.decode_seqs * scale
    decode_tokens = decode_seqs * (1 + shape.draft_tokens)
    prefill_tokens = shape.prefill_tokens * scale
    tokens = decode_tokens + prefill_tokens
    padded = _padded(tokens)
    gemm_compute = 2.0 * padded * (w.dense_params / r.gemm_peak + w.dense_fp8_params / r.fp8_peak)
    gemm = max(w.dense_bytes / r.bandwidth, gemm_compute)
    moe = comm = 0.0
    if w.moe and tokens > 0:
        group_tokens = tokens * (dep.dp if dep.dp_attention else 1)
        k, experts = spec.num_experts_per_tok, spec.n_routed_experts
        touched = p.local_experts * expert_touch_fraction(group_tokens, k, experts)
        routed = group_tokens * k * p.local_experts / (experts + dep.redundant_experts)
        routed *= expert_load_imbalance(spec, dep, group_tokens)
        per_expert = routed / touched if touched else 0.0
        flops = 2.0 * touched * max(per_expert, GEMM_TILE_TOKENS) * w.expert_params
        moe = _roofline(touched * w.expert_bytes, flops, r.expert_bandwidth, r.gemm_peak)
        if dep.moe_group > dep.tp:
            comm += moe_dispatch_combine_s(tokens / dep.tp, spec.hidden_size, k, dep.ep, gpu, dep)
    attention = 0.0
    if decode_seqs > 0:
        context = shape.decode_context_tokens
        attn, index = decode_attention_flops(spec, context, p.heads)
        kv = decode_seqs * ((p.kv_bytes_layer - p.index_bytes_layer) * attended_tokens(spec, context)
                            + p.index_bytes_layer * context)
        attention += _roofline(kv, decode_tokens * attn, r.bandwidth, r.attention_peak)
        attention += decode_tokens * index / r.indexer_peak
    if prefill_tokens > 0:
        attention += _prefill_attention_s(spec, p, r, prefill_tokens, shape.prefill_attended_tokens)
    if dep.tp > 1 and tokens > 0:
        comm += 2 * allreduce_s(tokens * spec.hidden_size * 2, dep.tp, gpu, dep)
    return gemm, moe, attention, comm


def _prefill_attention_s(spec: ModelSpec, p: _Profile, r: _Rates, tokens: float, attended: float) -> float:
    """Causal attention of `tokens` prompt tokens attending `attended` earlier tokens each (planner.flops)."""
    if spec.attention == "mla":
        if spec.has_dsa:  # sparse MLA in the latent form over at most index_topk tokens, plus the indexer
            per_head = 2 * (spec.kv_lora_rank + spec.qk_rope_head_dim) + 2 * spec.kv_lora_rank
            pairs = tokens * min(attended, float(spec.index_topk))
            index = 2.0 * spec.index_n_heads * spec.index_head_dim * tokens * attended
            return p.heads * per_head * pairs / r.attention_peak + index / r.indexer_peak
        per_head = 2 * (spec.qk_nope_head_dim + spec.qk_rope_head_dim) + 2 * spec.v_head_dim
    else:
        per_head = 4 * spec.head_dim
    return p.heads * per_head * tokens * attended / r.attention_peak


def _layers_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, p: _Profile, r: _Rates,
              w: _LayerWeights, shape: StepShape) -> tuple[float, float, float, float]:
    """(gemm, moe, attention, unhidden communication) of one layer of kind `w`, overlap applied."""
    gemm, moe, attention, comm = _layer_parts(spec, gpu, dep, p, w, r, shape, 1.0)
    if dep.tbo and comm > 0 and shape.decode_seqs + shape.prefill_tokens >= 2:
        g2, m2, a2, c2 = _layer_parts(spec, gpu, dep, p, w, r, shape, 0.5)
        compute = g2 + m2 + a2
        hidden = 2 * max(compute, c2) - 2 * compute
        return 2 * g2, 2 * m2, 2 * a2, hidden
    return gemm, moe, attention, comm * (1.0 - engine.comm_overlap)


def step_time(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, shape: StepShape,
              *, frontend: bool = True) -> StepTime:
    """Seconds of one step of one DP rank processing `shape` (all pipeline stages, MTP drafting included).

    With `frontend`, the step lasts at least as long as the API server needs to stream its tokens.
    """
    gpu_time = _cached_gpu_step(spec, gpu, dep, engine, shape.decode_seqs, shape.decode_context_tokens,
                                shape.draft_tokens, shape.prefill_tokens, shape.prefill_attended_tokens, shape)
    if not (frontend and shape.decode_seqs):
        return gpu_time
    streaming = _streaming_s(dep, engine, shape.decode_seqs)
    return gpu_time.model_copy(update={"frontend_s": streaming, "total_s": max(gpu_time.total_s, streaming)})


def _streaming_s(dep: Deployment, engine: EngineProfile, decode_seqs: float) -> float:
    """Seconds the API server needs to stream one token of every sequence of the DP ranks it fronts."""
    return decode_seqs * (dep.dp if dep.dp_attention else 1) * engine.frontend_token_s


def _cached_gpu_step(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, decode_seqs: float,
                     context: float, draft: int, prefill: float, attended: float,
                     shape: StepShape | None = None) -> StepTime:
    """The GPU side of a step from the cache, building the StepShape only when it has to be computed."""
    key = (id(spec), id(gpu), id(dep), id(engine), decode_seqs, context, draft, prefill, attended)
    hit = _STEP_CACHE.get(key)
    if hit is not None and hit[0] is spec and hit[1] is gpu and hit[2] is dep and hit[3] is engine:
        return hit[4]
    if len(_STEP_CACHE) >= _STEP_CACHE_SIZE:
        _STEP_CACHE.clear()
    if shape is None:
        shape = StepShape.model_construct(decode_seqs=decode_seqs, decode_context_tokens=context, draft_tokens=draft,
                                          prefill_tokens=prefill, prefill_attended_tokens=attended)
    gpu_time = _gpu_step(spec, gpu, dep, engine, shape)
    _STEP_CACHE[key] = (spec, gpu, dep, engine, gpu_time)
    return gpu_time


_STEP_CACHE: dict[tuple, tuple] = {}
"""GPU step times by the identity of their inputs (held in the entry, so an id cannot be reused while
it is cached) and the step's shape: a plan search asks for the same steps many times, and hashing the
pydantic models field by field would cost more than the lookup saves."""
_STEP_CACHE_SIZE = 200_000


def _rates(gpu: GpuSpec, dep: Deployment, engine: EngineProfile) -> _Rates:
    """_Rates depend on the GPU, the weight format and the engine only: built once for each."""
    key = (id(gpu), dep.weights_dtype, id(engine))
    hit = _RATES_CACHE.get(key)
    if hit is not None and hit[0] is gpu and hit[1] is engine:
        return hit[2]
    rates = _Rates(gpu, dep, engine)
    _RATES_CACHE[key] = (gpu, engine, rates)
    return rates


_RATES_CACHE: dict[tuple, tuple] = {}


def _gpu_step(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, shape: StepShape) -> StepTime:
    """The GPU side of `step_time`."""
    p = _profile(spec, dep)
    r = _rates(gpu, dep, engine)
    stages = p.stages
    micro = min(dep.pp, max(1, math.ceil(shape.decode_seqs + (1 if shape.prefill_tokens else 0))))
    part = shape if micro == 1 else shape.model_copy(update={
        "decode_seqs": shape.decode_seqs / micro, "prefill_tokens": shape.prefill_tokens / micro})
    gemm = moe = attention = comm = 0.0
    layers = 0
    for stage in stages:
        for count, w in ((stage.dense_layers, p.dense), (stage.moe_layers, p.moe)):
            if not count:
                continue
            g, m, a, c = _layers_s(spec, gpu, dep, engine, p, r, w, part)
            gemm, moe, attention, comm = gemm + count * g, moe + count * m, attention + count * a, comm + count * c
            layers += count
        if stage.lm_head:
            emitted = part.decode_seqs * (1 + part.draft_tokens) + (1 if part.prefill_tokens else 0)
            gemm += _roofline(p.lm_head_bytes, 2.0 * _padded(emitted) * p.lm_head_params, r.bandwidth, r.gemm_peak)
    if dep.pp > 1:
        bandwidth, latency = link_bytes_per_s(gpu, dep.gpus, dep)
        tokens = part.decode_seqs * (1 + part.draft_tokens) + part.prefill_tokens
        comm += (dep.pp - 1) * (latency + tokens * spec.hidden_size * 2 / bandwidth)
    overhead = layers * engine.layer_overhead_s + engine.step_overhead_s + shape.decode_seqs * engine.seq_overhead_s
    draft = 0.0
    if shape.draft_tokens and shape.decode_seqs:
        one = StepShape(decode_seqs=shape.decode_seqs, decode_context_tokens=shape.decode_context_tokens)
        g, m, a, c = _layers_s(spec, gpu, dep, engine, p, r, p.mtp, one)
        head = _roofline(p.lm_head_bytes, 2.0 * _padded(shape.decode_seqs) * p.lm_head_params, r.bandwidth, r.gemm_peak)
        draft = shape.draft_tokens * (g + m + a + c + head + engine.layer_overhead_s)
    total = gemm + moe + attention + comm + overhead + draft
    return StepTime(gemm_s=gemm, moe_s=moe, attention_s=attention, comm_s=comm, overhead_s=overhead, draft_s=draft,
                    frontend_s=0.0, total_s=total)


def overlap_gain_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, shape: StepShape) -> float:
    """Seconds two-batch overlap adds to (positive) or saves from (negative) a step of `shape` on `dep`.

    Exactly step_time with tbo=True minus step_time with tbo=False (whatever `dep.tbo` says) for a
    step without MTP drafting: only MoE layers with communication differ, so one layer of each is
    evaluated instead of two whole steps (planner.search prunes the slower variant with it).
    """
    p = _profile(spec, dep)
    w = p.moe
    if not w.moe or shape.decode_seqs + shape.prefill_tokens < 2:
        return 0.0
    r = _rates(gpu, dep, engine)
    g, m, a, c = _layer_parts(spec, gpu, dep, p, w, r, shape, 1.0)
    if c <= 0:
        return 0.0
    g2, m2, a2, c2 = _layer_parts(spec, gpu, dep, p, w, r, shape, 0.5)
    with_overlap = 2 * max(g2 + m2 + a2, c2)
    without = g + m + a + c * (1.0 - engine.comm_overlap)
    return sum(stage.moe_layers for stage in p.stages) * (with_overlap - without)


def decode_step_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, seqs: float,
                  context_tokens: float, draft_tokens: int = 0, *, frontend: bool = True) -> float:
    """Seconds of a decode-only step for `seqs` sequences of `context_tokens` each on one DP rank."""
    seqs = float(seqs)
    total = _cached_gpu_step(spec, gpu, dep, engine, seqs, float(context_tokens), draft_tokens, 0.0, 0.0).total_s
    return max(total, _streaming_s(dep, engine, seqs)) if frontend and seqs else total


def prefill_step_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, tokens: float,
                   attended_tokens: float | None = None) -> float:
    """Seconds of a prefill-only step of `tokens` prompt tokens (default: one whole prompt, attending tokens/2)."""
    attended = tokens / 2 if attended_tokens is None else attended_tokens
    return _cached_gpu_step(spec, gpu, dep, engine, 0.0, 0.0, 0, float(tokens), float(attended)).total_s
