"""vLLM 0.32.0 `vllm serve` commands (checked against the 0.32.0 and 0.34.0 flag lists).

Parallel flags (vllm/engine/arg_utils.py, EngineArgs.add_cli_args): `--tensor-parallel-size`
(omitted at 1, its default, as the recipes do), `--pipeline-parallel-size`, `--data-parallel-size`,
`--enable-expert-parallel` (the experts of the `tp x dp` ranks of a stage form one expert-parallel
group, so vLLM's EP size is always `tp x dp`). vLLM's data parallelism of a MoE model is one engine
whose attention runs per DP rank: the planner's dp-attention. The DeepSeek-V3.2 recipe runs DP+EP on
one node (`vllm serve deepseek-ai/DeepSeek-V3.2 -dp 8 --enable-expert-parallel` with the V3.2
tokenizer mode and parsers; vllm-project/recipes DeepSeek-V3_2-Exp.md "the kernels are mainly optimized
for TP=1", retrieved 2026-12-04).

Wide EP (vLLM blog 2025-12-17 "Large Scale Serving"): `--enable-eplb` with
`--eplb-config {"num_redundant_experts": N}`, `--enable-dbo` (dual-batch overlap) and DeepEP
all-to-all kernels when experts span nodes (`--all2all-backend deepep_low_latency` for decode,
`deepep_high_throughput` for prefill pools). MTP: `--speculative-config {"method": "mtp", ...}`.
Prefill/decode disaggregation: each pool's instances take
`--kv-transfer-config {"kv_connector": "NixlConnector", "kv_role": "kv_both"}` (vLLM docs
features/nixl_connector_usage); vLLM ships no router, so a proxy that sends each request to a prefill
instance and then a decode instance is needed in front (llm-d, or vLLM's NIXL example proxy).

Multi-node, two documented launchers:
- data parallel across nodes (docs.vllm.ai serving/data_parallel_deployment): node 0 runs the
  API server with `--data-parallel-size-local/--data-parallel-address/--data-parallel-rpc-port`,
  the others the same plus `--headless --data-parallel-start-rank`;
- tensor/pipeline parallel across nodes (docs.vllm.ai serving/distributed_serving): a Ray
  cluster (`ray start --head` / `ray start --address`) and `--distributed-executor-backend ray`
  on the head node only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from planner.emit.command import NodeCommand
from planner.emit.model_traits import kv_cache_dtype_value
from planner.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.deployment import Deployment
    from planner.emit.launch import LaunchJob, LaunchOptions

__all__ = ["build_nodes", "DP_RPC_PORT", "RAY_PORT", "KV_TRANSFER_CONFIG"]

KV_TRANSFER_CONFIG = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
"""Both pools of a vLLM PD deployment run the NIXL connector as `kv_both` (vLLM docs,
features/nixl_connector_usage.md; `kv_role` values in vllm/config/kv_transfer.py of 0.32.0)."""

DP_RPC_PORT = 13345
"""The data-parallel RPC port of vLLM's multi-node DP example."""
RAY_PORT = 6379
"""Ray's default GCS port."""


def build_nodes(job: LaunchJob) -> tuple[list[NodeCommand], list[str]]:
    """The command per node, and notes for the operator."""
    d, traits, options = job.deployment, job.traits, job.options
    notes: list[str] = []
    argv = ["vllm", "serve", job.model_hf_id]
    if d.tp > 1:
        argv += ["--tensor-parallel-size", str(d.tp)]
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
        if d.ep > d.gpus_per_node:
            kernel = "deepep_high_throughput" if options.role == "prefill" else "deepep_low_latency"
            argv += ["--all2all-backend", kernel]
    if d.eplb:
        argv += ["--enable-eplb"]
        if d.redundant_experts:
            argv += ["--eplb-config", json.dumps({"num_redundant_experts": d.redundant_experts})]
    if d.tbo:
        argv += ["--enable-dbo"]
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
    if options.mtp:
        argv += ["--speculative-config", json.dumps({"method": "mtp", "num_speculative_tokens": options.mtp})]
    if options.role != "aggregated":
        argv += ["--kv-transfer-config", json.dumps(KV_TRANSFER_CONFIG)]
        notes.append("vllm serve does not route between the pools: put a prefill/decode-aware proxy in front that sends "
                     "each request to a prefill instance, then to a decode instance (the vLLM Router, vllm-project/router; "
                     "llm-d; or vLLM's NIXL example proxy)")
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
