"""vLLM 0.13.0 `vllm serve` commands.

Parallel flags (vllm/engine/arg_utils.py, EngineArgs.add_cli_args): `--tensor-parallel-size`,
`--pipeline-parallel-size`, `--data-parallel-size`, `--enable-expert-parallel` (the experts of
the `tp x dp` ranks of a stage form one expert-parallel group, so vLLM's EP size is always
`tp x dp`). vLLM's data parallelism of a MoE model is one engine whose attention runs per DP
rank: the planner's dp-attention.

Multi-node, two documented launchers:
- data parallel across nodes (docs.vllm.ai serving/data_parallel_deployment): node 0 runs the
  API server with `--data-parallel-size-local/--data-parallel-address/--data-parallel-rpc-port`,
  the others the same plus `--headless --data-parallel-start-rank`;
- tensor/pipeline parallel across nodes (docs.vllm.ai serving/distributed_serving): a Ray
  cluster (`ray start --head` / `ray start --address`) and `--distributed-executor-backend ray`
  on the head node only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.emit.command import NodeCommand
from planner.emit.model_traits import kv_cache_dtype_value
from planner.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.deployment import Deployment
    from planner.emit.launch import LaunchJob, LaunchOptions

__all__ = ["build_nodes", "DP_RPC_PORT", "RAY_PORT"]

DP_RPC_PORT = 13345
"""The data-parallel RPC port of vLLM's multi-node DP example."""
RAY_PORT = 6379
"""Ray's default GCS port."""


def build_nodes(job: LaunchJob) -> tuple[list[NodeCommand], list[str]]:
    """The command per node, and notes for the operator."""
    d, traits, options = job.deployment, job.traits, job.options
    notes: list[str] = []
    argv = ["vllm", "serve", job.model_hf_id, "--tensor-parallel-size", str(d.tp)]
    if d.pp > 1:
        argv += ["--pipeline-parallel-size", str(d.pp)]
    if d.dp > 1:
        if not d.dp_attention:
            raise PlannerInputError(
                "vLLM runs the data-parallel ranks of a MoE model as one engine (attention per rank, "
                "experts shared): use --dp-attention, or emit one replica with --dp 1 and start it "
                f"{d.dp} times"
            )
        argv += ["--data-parallel-size", str(d.dp)]
    if d.ep > 1:
        if d.ep != d.moe_group:
            raise PlannerInputError(
                f"vLLM's expert-parallel size is tp x dp = {d.moe_group}; --ep {d.ep} cannot be expressed"
            )
        argv += ["--enable-expert-parallel"]
    argv += job.quantization_flags
    argv += ["--kv-cache-dtype", kv_cache_dtype_value("vllm", job.dsa, d.kv_dtype)]
    argv += ["--max-model-len", str(d.max_model_len)]
    argv += ["--gpu-memory-utilization", f"{d.gpu_memory_utilization:g}"]
    if traits.vllm_tokenizer_mode:
        argv += ["--tokenizer-mode", traits.vllm_tokenizer_mode]
    if traits.vllm_reasoning_parser:
        argv += ["--reasoning-parser", traits.vllm_reasoning_parser]
    if traits.vllm_tool_parser:
        argv += ["--tool-call-parser", traits.vllm_tool_parser, "--enable-auto-tool-choice"]
    serve = argv + ["--host", options.host, "--port", str(options.port)]
    if job.dsa and d.kv_dtype == "fp8":
        notes.append("vLLM stores V3.2's FP8 KV cache in its fp8_ds_mla layout (656 bytes per token per layer).")
    if d.nodes == 1:
        return [NodeCommand(node_rank=0, role="head", argvs=[serve])], notes
    notes.append("Set HEAD_NODE_IP to node 0's address on every node (or pass --head-address).")
    if d.dp > 1:
        return _data_parallel_nodes(d, argv, serve, options), notes
    return _ray_nodes(d, serve, options), notes


def _data_parallel_nodes(d: Deployment, argv: list[str], serve: list[str], options: LaunchOptions) -> list[NodeCommand]:
    gpus_per_node = d.gpus // d.nodes
    if d.tp * d.pp > gpus_per_node or d.dp % d.nodes:
        raise PlannerInputError(
            f"vLLM's multi-node data parallelism needs whole DP ranks on each node: tp x pp = {d.tp * d.pp} "
            f"must fit the {gpus_per_node} GPUs of a node and dp = {d.dp} must divide over {d.nodes} nodes"
        )
    dp_local = d.dp // d.nodes
    rendezvous = [
        "--data-parallel-size-local", str(dp_local),
        "--data-parallel-address", options.head_address,
        "--data-parallel-rpc-port", str(DP_RPC_PORT),
    ]  # fmt: skip
    nodes = [NodeCommand(node_rank=0, role="head", argvs=[serve + rendezvous])]
    for rank in range(1, d.nodes):
        start = ["--headless", "--data-parallel-start-rank", str(rank * dp_local)]
        nodes.append(NodeCommand(node_rank=rank, role="worker", argvs=[argv + rendezvous + start]))
    return nodes


def _ray_nodes(d: Deployment, serve: list[str], options: LaunchOptions) -> list[NodeCommand]:
    head = [
        ["ray", "start", "--head", "--port", str(RAY_PORT)],
        serve + ["--distributed-executor-backend", "ray"],
    ]
    nodes = [NodeCommand(node_rank=0, role="head", argvs=head)]
    join = ["ray", "start", "--address", f"{options.head_address}:{RAY_PORT}", "--block"]
    nodes += [NodeCommand(node_rank=rank, role="worker", argvs=[join]) for rank in range(1, d.nodes)]
    return nodes
