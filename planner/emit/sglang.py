"""SGLang 0.5.6.post2 `python3 -m sglang.launch_server` commands.

Flags from sglang/srt/server_args.py. SGLang's `--tp-size` counts every GPU of a pipeline stage
of one engine; with `--enable-dp-attention` the `--dp-size` attention groups split it (so
`--tp-size` is the planner's `tp x dp`); without it `--dp-size` starts independent replicas of
`--tp-size` GPUs each. `--ep-size` splits the experts of those `--tp-size` GPUs. DeepSeek-V3.2 on
8 GPUs: `--tp 8 --dp 8 --enable-dp-attention` (docs.sglang.io basic_usage/deepseek_v32).
Multi-node: the same command on every node with `--nnodes`, `--node-rank` and
`--dist-init-addr HEAD:PORT`; experts spread over nodes use DeepEP (`--moe-a2a-backend deepep`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.emit.command import NodeCommand
from planner.emit.model_traits import kv_cache_dtype_value
from planner.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.emit.launch import LaunchJob

__all__ = ["build_nodes", "DIST_INIT_PORT"]

DIST_INIT_PORT = 20000
"""The rendezvous port of SGLang's multi-node examples."""


def build_nodes(job: LaunchJob) -> tuple[list[NodeCommand], list[str]]:
    """The command per node, and notes for the operator."""
    d, traits, options = job.deployment, job.traits, job.options
    tp_size = d.moe_group
    argv = ["python3", "-m", "sglang.launch_server", "--model-path", job.model_hf_id, "--tp-size", str(tp_size)]
    if d.dp > 1:
        argv += ["--dp-size", str(d.dp)]
        if d.dp_attention:
            argv += ["--enable-dp-attention"]
    if d.ep > 1:
        argv += ["--ep-size", str(d.ep)]
        if d.nodes > 1:
            argv += ["--moe-a2a-backend", "deepep"]
    if d.pp > 1:
        argv += ["--pp-size", str(d.pp)]
    argv += job.quantization_flags
    argv += ["--kv-cache-dtype", kv_cache_dtype_value("sglang", job.dsa, d.kv_dtype)]
    argv += ["--context-length", str(d.max_model_len)]
    argv += ["--mem-fraction-static", f"{d.gpu_memory_utilization:g}"]
    if traits.sglang_reasoning_parser:
        argv += ["--reasoning-parser", traits.sglang_reasoning_parser]
    if traits.sglang_tool_parser:
        argv += ["--tool-call-parser", traits.sglang_tool_parser]
    argv += ["--host", options.host, "--port", str(options.port)]
    notes = [
        "SGLang's --mem-fraction-static covers weights and KV cache only (activations come from the rest); "
        "it is given the planner's --gpu-memory-utilization as is."
    ]
    if d.nodes == 1:
        return [NodeCommand(node_rank=0, role="head", argvs=[argv])], notes
    if d.dp > 1 and not d.dp_attention:
        raise PlannerInputError(
            "SGLang's --dp-size replicas without --enable-dp-attention run on one node; "
            "launch one multi-node replica per command instead"
        )
    notes.append("Set HEAD_NODE_IP to node 0's address on every node (or pass --head-address).")
    rendezvous = ["--nnodes", str(d.nodes), "--dist-init-addr", f"{options.head_address}:{DIST_INIT_PORT}"]
    nodes = [
        NodeCommand(
            node_rank=rank,
            role="head" if rank == 0 else "worker",
            argvs=[argv + rendezvous + ["--node-rank", str(rank)]],
        )
        for rank in range(d.nodes)
    ]
    return nodes, notes
