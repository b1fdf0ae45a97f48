"""Turn the user's parallelism flags into a checked `Deployment`, and pick GPU counts for `--gpus auto`."""

from __future__ import annotations

from collections.abc import Iterator

from planner.deployment import Deployment
from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec
from planner.model_spec import ModelSpec

__all__ = ["build_deployment", "auto_gpu_counts", "default_layout", "uses_recipe_layout", "validate_layout",
           "MAX_AUTO_NODES"]

MAX_AUTO_NODES = 16
"""`--gpus auto` stops after 16 nodes of 8 GPUs (128 GPUs); nothing in the catalog needs more."""


def auto_gpu_counts(gpus_per_node: int, max_nodes: int = MAX_AUTO_NODES) -> Iterator[int]:
    """1, 2, 4, ... up to one node, then whole nodes: 1, 2, 4, 8, 16, 24, ... for 8-GPU nodes."""
    n = 1
    while n < gpus_per_node:
        yield n
        n *= 2
    for nodes in range(1, max_nodes + 1):
        yield nodes * gpus_per_node


def default_layout(spec: ModelSpec, gpus: int, gpus_per_node: int) -> tuple[int, int, int]:
    """(tp, pp, dp) for a GPU count: TP inside a node (largest power of two dividing the heads),
    pipeline stages across nodes, data parallel over whatever TP cannot use."""
    per_node = min(gpus, gpus_per_node)
    pp = max(1, gpus // gpus_per_node) if gpus >= gpus_per_node else 1
    tp = per_node
    while tp > 1 and (spec.num_attention_heads % tp or per_node % tp):
        tp //= 2
    dp = gpus // (tp * pp)
    return tp, pp, dp


def uses_recipe_layout(spec: ModelSpec, gpus: int, gpus_per_node: int, fields: dict) -> bool:
    """DeepSeek-V3.2's recipes run DP+EP on one node rather than TP8: vLLM's "the kernels are mainly
    optimized for TP=1 ... run this model under EP/DP mode" (vllm-project/recipes DeepSeek-V3_2-Exp.md),
    SGLang's TP8 with DP attention (docs.sglang.io basic_usage/deepseek_v32); TP8 would pad DSA's
    sparse-attention heads (planner.step_model.DSA_HEAD_BLOCK)."""
    return (spec.has_dsa and spec.is_moe and 1 < gpus <= gpus_per_node and fields.get("ep", 1) == 1
            and not fields.get("dp_attention", False))


def validate_layout(spec: ModelSpec, dep: Deployment) -> None:
    """Reject layouts no engine can run; each message is one line naming the flag."""
    if dep.tp > dep.gpus:
        raise PlannerInputError(f"--tp {dep.tp} exceeds --gpus {dep.gpus}")
    if spec.num_attention_heads % dep.tp:
        raise PlannerInputError(
            f"--tp {dep.tp} does not divide the {spec.num_attention_heads} attention heads of {spec.name}"
        )
    if dep.tp * dep.pp * dep.dp != dep.gpus:
        raise PlannerInputError(
            f"--tp {dep.tp} x --pp {dep.pp} x --dp {dep.dp} = {dep.tp * dep.pp * dep.dp} GPUs, but --gpus is {dep.gpus}"
        )
    if dep.pp > spec.num_layers:
        raise PlannerInputError(f"--pp {dep.pp} exceeds the {spec.num_layers} layers of {spec.name}")
    if dep.ep > 1:
        if not spec.is_moe:
            raise PlannerInputError(f"--ep {dep.ep} needs a mixture-of-experts model; {spec.name} is dense")
        if dep.moe_group % dep.ep:
            what = "--tp x --dp" if dep.dp_attention else "--tp (add --dp-attention to spread experts over --dp)"
            raise PlannerInputError(f"--ep {dep.ep} must divide the MoE group of {dep.moe_group} GPUs ({what})")
        if dep.ep > spec.n_routed_experts:
            raise PlannerInputError(f"--ep {dep.ep} exceeds the {spec.n_routed_experts} routed experts")


def build_deployment(
    spec: ModelSpec,
    gpu: GpuSpec,
    gpus: int,
    tp: int | None,
    pp: int | None,
    dp: int | None,
    **fields: object,
) -> Deployment:
    """A `Deployment` from flags where tp/pp/dp may be missing: the missing one fills the GPU count.

    With no parallel flags at all, a DSA mixture-of-experts model (DeepSeek-V3.2) on one node takes
    the engines' recipe shape, DP attention with expert parallelism over every GPU (`uses_recipe_layout`).
    """
    if tp is None and pp is None and dp is None:
        if uses_recipe_layout(spec, gpus, gpu.gpus_per_node, fields):
            fields = {**fields, "ep": gpus, "dp_attention": True}
            tp, pp, dp = 1, 1, gpus
        else:
            tp, pp, dp = default_layout(spec, gpus, gpu.gpus_per_node)
    pp = pp or 1
    if tp is None:
        dp = dp or 1
        tp = max(1, gpus // (pp * dp))
    if dp is None:
        dp = max(1, gpus // (tp * pp))
    dep = Deployment(
        gpu=gpu.name,
        gpus=gpus,
        tp=tp,
        pp=pp,
        dp=dp,
        nodes=Deployment.nodes_for(gpus, gpu.gpus_per_node),
        gpus_per_node=gpu.gpus_per_node,
        **fields,
    )
    validate_layout(spec, dep)
    return dep
