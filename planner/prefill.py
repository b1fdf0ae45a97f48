"""Prefill: compute-bound processing of a prompt, FLOPs of the active parameters plus attention.

Time = FLOPs / (GPUs sharing the work x dense peak of the math precision x the engine's prefill
efficiency) + the communication that is not overlapped. Routed-expert FLOPs spread over the whole
MoE group; attention, dense FFN, shared experts and lm_head over the attention TP group.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.comms import allreduce_s, alltoall_s
from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.flops import compute_dtype, prefill_attention_flops
from planner.gpu_spec import GpuSpec
from planner.model_spec import ModelSpec
from planner.params import layer_multiplier, tensor_inventory

__all__ = ["PrefillFlops", "prefill_flops", "prefill_time_s", "prefill_capacity_tokens_per_s"]


class PrefillFlops(BaseModel):
    """FLOPs of one prompt, split by where they run and in which precision."""

    model_config = ConfigDict(frozen=True)

    rank_linear: float
    expert_linear: float
    attention: float
    indexer: float

    @property
    def total(self) -> float:
        return self.rank_linear + self.expert_linear + self.attention + self.indexer


def prefill_flops(spec: ModelSpec, prompt_tokens: int) -> PrefillFlops:
    """FLOPs to prefill one prompt of `prompt_tokens` (main model; lm_head for the last token only)."""
    rank_linear = expert_linear = 0.0
    for g in tensor_inventory(spec):
        if g.layers == "mtp" or g.component == "embedding" or g.cols == 1:
            continue
        params = g.params_per_layer() * layer_multiplier(spec, g.layers)
        if g.component == "lm_head":
            rank_linear += 2.0 * params
        elif g.shard == "experts":
            expert_linear += 2.0 * prompt_tokens * params * g.active_fraction
        else:
            rank_linear += 2.0 * prompt_tokens * params
    attention, indexer = prefill_attention_flops(spec, prompt_tokens, spec.num_attention_heads)
    return PrefillFlops(
        rank_linear=rank_linear,
        expert_linear=expert_linear,
        attention=attention * spec.num_layers,
        indexer=indexer * spec.num_layers,
    )


def _rates(gpu: GpuSpec, dep: Deployment, engine: EngineProfile) -> tuple[float, float, float]:
    eff = engine.prefill_compute_efficiency
    return (
        gpu.dense_flops_per_s(compute_dtype(dep.weights_dtype)) * eff,
        gpu.dense_flops_per_s("bf16") * eff,
        gpu.dense_flops_per_s("fp8") * eff,
    )


def prefill_time_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, prompt_tokens: int) -> float:
    """Seconds to prefill one prompt on an otherwise idle DP rank (pipeline stages run one after another)."""
    f = prefill_flops(spec, prompt_tokens)
    linear_rate, bf16_rate, fp8_rate = _rates(gpu, dep, engine)
    compute = (
        f.rank_linear / (dep.tp * linear_rate)
        + f.expert_linear / (dep.moe_group * linear_rate)
        + f.attention / (dep.tp * bf16_rate)
        + f.indexer / fp8_rate
    )
    hidden_bytes = prompt_tokens * spec.hidden_size * 2
    comm = 2 * spec.num_layers * allreduce_s(hidden_bytes, dep.tp, gpu, dep)
    if spec.is_moe and dep.ep > 1:
        comm += spec.num_moe_layers * alltoall_s(
            prompt_tokens * spec.num_experts_per_tok * spec.hidden_size * 3, dep.ep, gpu, dep
        )
    return compute + comm * (1.0 - engine.comm_overlap) + engine.step_overhead_s


def prefill_capacity_tokens_per_s(
    spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, prompt_tokens: int
) -> float:
    """Prompt tokens per second the whole deployment prefills when every GPU does nothing else."""
    f = prefill_flops(spec, prompt_tokens)
    linear_rate, bf16_rate, fp8_rate = _rates(gpu, dep, engine)
    # indexer work is replicated on every attention-TP rank
    gpu_seconds = (f.rank_linear + f.expert_linear) / linear_rate + f.attention / bf16_rate + f.indexer * dep.tp / fp8_rate
    return dep.gpus * prompt_tokens / gpu_seconds
