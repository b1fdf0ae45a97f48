"""Memory per GPU: weights, a runtime reserve, and the KV cache that fits in what is left.

The engine's budget is vLLM's `--gpu-memory-utilization`: the fraction of the GPU's *total* memory
the engine may use for weights, activations and KV cache together (vLLM docs, "engine arguments").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.deployment import Deployment
from planner.gpu_spec import GIB, GpuSpec
from planner.kv_cache import kv_bytes_per_token, kv_bytes_per_token_layer_per_gpu
from planner.model_spec import ModelSpec
from planner.weights import stage_layer_counts, stage_weight_bytes

__all__ = ["MemoryEstimate", "estimate_memory", "runtime_reserve_bytes", "RUNTIME_FIXED_RESERVE_BYTES",
           "PREFILL_CHUNK_TOKENS", "ACTIVATION_COPIES"]

RUNTIME_FIXED_RESERVE_BYTES = 1 * GIB
"""Memory the engine holds outside PyTorch's allocator inside its budget, per GPU: NCCL and custom
all-reduce buffers, cuBLAS/cuDNN workspaces. vLLM's profiling log reports it as "non-torch memory"
(typically 0.5-1.5 GiB on 8-GPU nodes). CUDA graphs are captured after the KV pool is sized and
live in the (1 - gpu_memory_utilization) headroom (vLLM docs, "gpu_memory_utilization")."""

PREFILL_CHUNK_TOKENS = 8192
"""Tokens in one prefill chunk: vLLM V1's default `max_num_batched_tokens` for online serving on
large GPUs, and SGLang's default `--chunked-prefill-size` on >80 GB GPUs. The activation peak is
measured by vLLM's profiling run with this many tokens."""

ACTIVATION_COPIES = 16
"""Hidden-size bf16 activation tensors alive at the peak of a prefill chunk (residual, norm output,
q/k/v or latent projections, MoE dispatch buffers, gate/up intermediate in chunks). Chosen so that
8192 tokens x 7168 x 2 bytes x 16 = 1.75 GiB, in line with the 1.5-2.5 GiB "activation peak"
vLLM logs for DeepSeek-V3-sized models."""


def runtime_reserve_bytes(spec: ModelSpec) -> float:
    """Memory per GPU kept out of the KV pool: fixed runtime reserve plus the prefill activation peak."""
    return RUNTIME_FIXED_RESERVE_BYTES + PREFILL_CHUNK_TOKENS * spec.hidden_size * 2 * ACTIVATION_COPIES


class MemoryEstimate(BaseModel):
    """The `memory.*` keys of the JSON contract, plus the figures behind them."""

    model_config = ConfigDict(frozen=True)

    weights_gib_per_gpu: float
    kv_bytes_per_token: int
    kv_cache_gib_per_gpu: float
    kv_cache_tokens: int
    max_concurrency: int
    fits: bool
    reason: str | None
    usable_gib_per_gpu: float
    reserve_gib_per_gpu: float
    kv_tokens_per_dp_rank: int


def estimate_memory(
    spec: ModelSpec,
    gpu: GpuSpec,
    dep: Deployment,
    input_len: int,
    output_len: int,
    mtp_loaded: bool = False,
) -> MemoryEstimate:
    """Weights, KV pool and KV tokens for one deployment; `fits` is False with a reason when it does not.

    Each pipeline stage has its own weights and its own layers' cache; a DP rank's token capacity is
    that of its tightest stage. `kv_cache_tokens` sums over the `dp` ranks (each keeps its own cache).
    """
    usable = dep.gpu_memory_utilization * gpu.memory_bytes
    reserve = runtime_reserve_bytes(spec)
    weights = stage_weight_bytes(spec, dep, mtp_loaded)
    per_layer = kv_bytes_per_token_layer_per_gpu(spec, dep.kv_dtype, dep.tp)
    tokens_per_rank: int | None = None
    pool_at_bottleneck = 0.0
    for w, counts in zip(weights, stage_layer_counts(spec, dep.pp, mtp_loaded)):
        pool = max(0.0, usable - w - reserve)
        layers = counts["all_layers"] + counts["mtp"]
        tokens = int(pool // (per_layer * layers)) if layers else 0
        if tokens_per_rank is None or tokens < tokens_per_rank:
            tokens_per_rank, pool_at_bottleneck = tokens, pool
    tokens_per_rank = tokens_per_rank or 0
    seq_len = input_len + output_len
    reason = None
    weights_max = max(weights)
    if weights_max + reserve > usable:
        reason = (
            f"weights need {weights_max / GIB:.1f} GiB per GPU plus {reserve / GIB:.1f} GiB runtime reserve, "
            f"but {dep.gpu_memory_utilization:g} x {gpu.memory_bytes / GIB:.1f} GiB = {usable / GIB:.1f} GiB is usable"
        )
    elif tokens_per_rank < dep.max_model_len:
        reason = (
            f"KV cache holds {tokens_per_rank:,} tokens per DP rank, fewer than one --max-model-len "
            f"{dep.max_model_len:,} sequence"
        )
    elif seq_len > dep.max_model_len:
        reason = f"--input-len + --output-len = {seq_len:,} exceeds --max-model-len {dep.max_model_len:,}"
    fits = reason is None
    return MemoryEstimate(
        weights_gib_per_gpu=round(weights_max / GIB, 3),
        kv_bytes_per_token=kv_bytes_per_token(spec, dep.kv_dtype),
        kv_cache_gib_per_gpu=round(pool_at_bottleneck / GIB, 3),
        kv_cache_tokens=tokens_per_rank * dep.dp,
        max_concurrency=(tokens_per_rank // seq_len) * dep.dp if fits else 0,
        fits=fits,
        reason=reason,
        usable_gib_per_gpu=round(usable / GIB, 3),
        reserve_gib_per_gpu=round(reserve / GIB, 3),
        kv_tokens_per_dp_rank=tokens_per_rank,
    )
