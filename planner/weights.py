"""Weight bytes: per tensor format (bf16, DeepSeek fp8 blocks, int4 W4A16, NVFP4) and per GPU.

Formats, as the checkpoints ship them:
- `bf16`: 2 bytes per parameter.
- `fp8`: DeepSeek-V3's format (README_WEIGHTS.md): e4m3 weights, one fp32 scale per 128x128 block
  of every linear layer; embeddings, lm_head, router gates and norms stay bf16.
- `int4`: W4A16 with group size 128 (GPTQ/AWQ style, e.g. vLLM's Marlin kernels): 4-bit weights and
  one bf16 scale per 128 input elements of each output row, for every linear layer.
- `nvfp4`: NVIDIA's format (nvidia/DeepSeek-R1-FP4 model card): FP4 e2m1 weights, one fp8 e4m3 scale
  per 16 elements and two fp32 per-tensor scales, applied to the FFN / expert linears; attention
  projections stay in DeepSeek's fp8 blocks as in that checkpoint.
"""

from __future__ import annotations

import math

from planner.deployment import Deployment
from planner.model_spec import ModelSpec
from planner.params import TensorGroup, tensor_inventory

__all__ = ["matrix_bytes", "group_format", "checkpoint_bytes", "stage_layer_counts", "weight_bytes_per_gpu",
           "stage_weight_bytes"]

FP8_BLOCK = 128
INT4_GROUP = 128
NVFP4_BLOCK = 16


def matrix_bytes(rows: int, cols: int, fmt: str) -> float:
    """Bytes of one rows x cols matrix stored in `fmt`, scales included."""
    n = rows * cols
    if fmt == "bf16" or cols == 1:
        return 2.0 * n
    if fmt == "fp8":
        return n + math.ceil(rows / FP8_BLOCK) * math.ceil(cols / FP8_BLOCK) * 4
    if fmt == "int4":
        return n / 2 + rows * math.ceil(cols / INT4_GROUP) * 2
    if fmt == "nvfp4":
        return n / 2 + rows * math.ceil(cols / NVFP4_BLOCK) + 8
    raise ValueError(f"unknown weight format {fmt}")


def group_format(group: TensorGroup, weights_dtype: str) -> str:
    """The storage format of one tensor group under `--weights`."""
    if group.quant == "bf16" or weights_dtype == "bf16":
        return "bf16"
    if weights_dtype == "nvfp4" and group.quant == "attention_linear":
        return "fp8"
    return weights_dtype


def _group_bytes(group: TensorGroup, weights_dtype: str) -> float:
    return matrix_bytes(group.rows, group.cols, group_format(group, weights_dtype)) * group.copies


def checkpoint_bytes(spec: ModelSpec, weights_dtype: str, include_mtp: bool = True) -> float:
    """Bytes of the whole checkpoint in one format (every tensor once)."""
    from planner.params import layer_multiplier

    return sum(
        _group_bytes(g, weights_dtype) * layer_multiplier(spec, g.layers)
        for g in tensor_inventory(spec)
        if include_mtp or g.layers != "mtp"
    )


def shard_fraction(group: TensorGroup, spec: ModelSpec, dep: Deployment) -> float:
    """Fraction of a tensor group one GPU holds."""
    if group.shard == "tp":
        return 1.0 / dep.tp
    if group.shard == "kv_heads":
        kv = spec.num_kv_heads
        return max(1, kv // dep.tp) / kv
    if group.shard == "experts":
        # experts (with redundant copies) split over ep (ceil: e.g. 256 over EP72 puts 4 on some
        # GPUs), each over moe_tp
        experts = spec.n_routed_experts
        return math.ceil((experts + dep.redundant_experts) / dep.ep) / experts / dep.moe_tp
    return 1.0


def stage_layer_counts(spec: ModelSpec, pp: int, mtp_loaded: bool) -> list[dict[str, int]]:
    """Per pipeline stage, how many layers of each kind it holds (even split, earlier stages take the rest)."""
    base, extra = divmod(spec.num_layers, pp)
    stages: list[dict[str, int]] = []
    start = 0
    for s in range(pp):
        end = start + base + (1 if s < extra else 0)
        moe = sum(spec.moe_layer_mask[start:end])
        stages.append({
            "all_layers": end - start,
            "moe_layers": moe,
            "dense_layers": end - start - moe,
            "first_stage": int(s == 0),
            "last_stage": int(s == pp - 1),
            "mtp": spec.mtp_layers if (mtp_loaded and s == pp - 1) else 0,
        })
        start = end
    return stages


def stage_weight_bytes(spec: ModelSpec, dep: Deployment, mtp_loaded: bool = False) -> list[float]:
    """Weight bytes on one GPU of each pipeline stage."""
    groups = tensor_inventory(spec)
    per_group = [(_group_bytes(g, dep.weights_dtype) * shard_fraction(g, spec, dep), g.layers) for g in groups]
    return [
        sum(b * counts[kind] for b, kind in per_group)
        for counts in stage_layer_counts(spec, dep.pp, mtp_loaded)
    ]


def weight_bytes_per_gpu(spec: ModelSpec, dep: Deployment, mtp_loaded: bool = False) -> float:
    """Weight bytes on the fullest GPU."""
    return max(stage_weight_bytes(spec, dep, mtp_loaded))
